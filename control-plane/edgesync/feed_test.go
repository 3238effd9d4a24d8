package edgesync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// TestFeedVersionsFollowCommitOrderAndWritersDoNotWait: a writer whose transaction is still
// open does not hold up another writer, and its change takes a version only when it
// commits, after the other's: an edge that read the other's change still gets it next.
// With the version drawn at insert under a lock held to commit, the second writer would
// wait for the first's whole transaction (and time out here).
func TestFeedVersionsFollowCommitOrderAndWritersDoNotWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := partnertest.DB(t)
	server, err := edgesync.New(edgesync.Config{Pool: pool, Tokens: []string{token}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h := &harness{pool: pool, server: server}
	h.start(t, "127.0.0.1:0")
	changes := func(since uint64) edgewire.Changes {
		status, body := h.get(t, fmt.Sprintf("%s?since=%d", edgewire.ChangesPath, since), token)
		require.Equal(t, http.StatusOK, status, string(body))
		return decodeJSON[edgewire.Changes](t, body)
	}

	slow, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = slow.Rollback(ctx) }()
	require.NoError(t, edgesync.PublishPartner(ctx, slow, edgewire.Partner{ID: "ptr_slow", Status: edgewire.PartnerActive}))

	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = func() error {
		tx, err := pool.Begin(quick)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if err := edgesync.PublishPartner(quick, tx, edgewire.Partner{ID: "ptr_quick", Status: edgewire.PartnerActive}); err != nil {
			return err
		}
		return tx.Commit(quick)
	}()
	require.NoError(t, err, "a writer must not wait for another writer's open transaction")

	first := changes(0)
	require.Len(t, first.Changes, 1, "the open transaction's change is not visible")
	assert.Equal(t, "ptr_quick", first.Changes[0].Partner.ID)
	assert.EqualValues(t, 1, first.Version)

	require.NoError(t, slow.Commit(ctx))
	next := changes(first.Version)
	require.Len(t, next.Changes, 1, "the edge at the quick writer's version gets the slow writer's change")
	assert.Equal(t, "ptr_slow", next.Changes[0].Partner.ID)
	assert.EqualValues(t, 2, next.Version)
}
