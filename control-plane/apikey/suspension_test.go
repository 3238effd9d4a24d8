package apikey_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/internal/testenv"
)

// TestASuspensionIsNeverUndoneByAConcurrentKeyCreation interleaves the two
// deterministically: a suspension's transaction (as partner.Service.Suspend runs it: lock
// the partner, set suspended, publish it to the edge feed) is open when a key creation
// starts; the test waits until the creation is blocked on a lock, then commits the
// suspension. The partner's last state in the feed must be the stored one, suspended: a
// creation that read the status before the suspension committed would publish "active"
// after it, and every edge would serve the suspended partner until it resynced.
func TestASuspensionIsNeverUndoneByAConcurrentKeyCreation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tenant := partnertest.Seed(t, e.pool, "Racy Co", false)

	suspend, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = suspend.Rollback(ctx) }()
	_, err = suspend.Exec(ctx, `SELECT status FROM partners WHERE id = $1 FOR UPDATE`, tenant.PartnerID)
	require.NoError(t, err)
	_, err = suspend.Exec(ctx, `UPDATE partners SET status = 'suspended' WHERE id = $1`, tenant.PartnerID)
	require.NoError(t, err)
	err = edgesync.PublishPartner(ctx, suspend, edgewire.Partner{ID: tenant.PartnerID, Status: edgewire.PartnerSuspended})
	require.NoError(t, err)

	created := make(chan error, 1)
	go func() {
		_, err := e.keys.Create(ctx, tenant.Owner, apikey.Settings{Name: "racer", Environment: keyformat.Test,
			Roles: []string{"catalog:read"}, AllowedCIDRs: []string{}})
		created <- err
	}()
	// The creation is blocked once a backend of this database waits on a lock: the
	// partner row (FOR SHARE) or, were the status read without one, the feed's lock.
	testenv.AwaitLockWaiters(t, e.pool, 1, "the key creation never waited for the suspension")
	require.NoError(t, suspend.Commit(ctx))
	select {
	case err := <-created:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the key creation did not finish after the suspension committed")
	}

	var stored string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT status FROM partners WHERE id = $1`, tenant.PartnerID).Scan(&stored))
	var raw []byte
	err = e.pool.QueryRow(ctx, `SELECT payload FROM edge_changes WHERE type = $1 AND payload->>'id' = $2
		ORDER BY version DESC LIMIT 1`, string(edgewire.PartnerUpsert), tenant.PartnerID).Scan(&raw)
	require.NoError(t, err)
	var published edgewire.Partner
	require.NoError(t, json.Unmarshal(raw, &published))
	assert.Equal(t, "suspended", stored)
	assert.Equal(t, stored, string(published.Status), "the feed's last word on the partner is its stored state")
}
