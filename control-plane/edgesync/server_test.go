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
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/partner/partnertest"
	edgeclient "github.com/steller/platform/gateway-plugin/edgesync"
)

func TestNewReportsEveryMissingDependency(t *testing.T) {
	t.Parallel()
	_, err := edgesync.New(edgesync.Config{Tokens: []string{"ok", " "}})
	require.Error(t, err)
	for _, want := range []string{"Pool", "Logger", "edge token 1 is empty"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestEdgeTokenIsRequired(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	cases := []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "edge-token-for-test", http.StatusUnauthorized},
		{"current token", token, http.StatusOK},
		{"previous token during rotation", "old-token", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{edgewire.SnapshotPath, edgewire.ChangesPath + "?since=0"} {
				status, body := h.get(t, path, tc.token)
				assert.Equal(t, tc.want, status, "%s: %s", path, body)
			}
		})
	}
}

func TestSnapshotHasEveryKeyAndPartnerAtTheFeedsVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, false)
	a := partnertest.Seed(t, h.pool, "Snap A", false)
	b := partnertest.Seed(t, h.pool, "Snap B", false)
	ka, err := h.keys.Create(ctx, a.Owner, catalogKey())
	require.NoError(t, err)
	kb, err := h.keys.Create(ctx, b.Owner, catalogKey())
	require.NoError(t, err)
	_, err = h.keys.Revoke(ctx, b.Owner, kb.Key.ID)
	require.NoError(t, err)
	_, err = h.partners.Suspend(ctx, partnertest.Admin(), b.PartnerID, "test")
	require.NoError(t, err)
	var latest uint64
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT max(version) FROM edge_changes`).Scan(&latest))

	status, body := h.get(t, edgewire.SnapshotPath, token)
	require.Equal(t, http.StatusOK, status, string(body))
	snap := decodeJSON[edgewire.Snapshot](t, body)
	assert.Equal(t, latest, snap.Version)
	byID := map[string]edgewire.Key{}
	for _, k := range snap.Keys {
		byID[k.KeyID] = k
	}
	require.Len(t, byID, 2)
	assert.Equal(t, keyformat.HashOf(ka.Secret), byID[ka.Key.ID].Hash)
	assert.Equal(t, edgewire.KeyActive, byID[ka.Key.ID].Status)
	assert.Equal(t, []string{"203.0.113.0/24", "2001:db8::/32"}, byID[ka.Key.ID].AllowedCIDRs)
	assert.Equal(t, edgewire.KeyRevoked, byID[kb.Key.ID].Status)
	assert.ElementsMatch(t, []edgewire.Partner{{ID: a.PartnerID, Status: edgewire.PartnerActive}, {ID: b.PartnerID, Status: edgewire.PartnerSuspended}}, snap.Partners)

	// The snapshot equals the feed replayed from nothing.
	table, err := edgeclient.NewTable(edgewire.Snapshot{})
	require.NoError(t, err)
	status, body = h.get(t, edgewire.ChangesPath+"?since=0", token)
	require.Equal(t, http.StatusOK, status)
	table, err = table.Apply(decodeJSON[edgewire.Changes](t, body).Changes)
	require.NoError(t, err)
	fromSnap, err := edgeclient.NewTable(snap)
	require.NoError(t, err)
	replayed, snapped := table.Snapshot(), fromSnap.Snapshot()
	replayed.GeneratedAt, snapped.GeneratedAt = time.Time{}, time.Time{}
	assert.Equal(t, snapped, replayed)
}

func TestChangeFeedLongPoll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, true)
	tn := partnertest.Seed(t, h.pool, "Poll", false)
	k, err := h.keys.Create(ctx, tn.Owner, catalogKey())
	require.NoError(t, err)

	// Changes above since are answered at once, in order.
	status, body := h.get(t, edgewire.ChangesPath+"?since=0&wait=25s", token)
	require.Equal(t, http.StatusOK, status, string(body))
	first := decodeJSON[edgewire.Changes](t, body)
	require.Len(t, first.Changes, 2)
	assert.Equal(t, edgewire.PartnerUpsert, first.Changes[0].Type)
	assert.Equal(t, edgewire.KeyUpsert, first.Changes[1].Type)
	assert.Less(t, first.Changes[0].Version, first.Changes[1].Version)
	assert.Equal(t, first.Changes[1].Version, first.Version)

	// Nothing new: held for wait, then answered empty at the same version.
	status, body = h.get(t, fmt.Sprintf("%s?since=%d&wait=300ms", edgewire.ChangesPath, first.Version), token)
	require.Equal(t, http.StatusOK, status)
	empty := decodeJSON[edgewire.Changes](t, body)
	assert.Empty(t, empty.Changes)
	assert.Equal(t, first.Version, empty.Version)

	// A change during the wait is answered as soon as it commits.
	got := make(chan []byte, 1)
	go func() {
		_, body, _ := h.fetch(fmt.Sprintf("%s?since=%d&wait=25s", edgewire.ChangesPath, first.Version), token)
		got <- body
	}()
	time.Sleep(100 * time.Millisecond) // let the request start waiting
	_, err = h.keys.Revoke(ctx, tn.Owner, k.Key.ID)
	require.NoError(t, err)
	select {
	case body := <-got:
		ch := decodeJSON[edgewire.Changes](t, body)
		require.Len(t, ch.Changes, 1)
		assert.Equal(t, edgewire.KeyRevoked, ch.Changes[0].Key.Status)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting long-poll was not woken by the change")
	}
}

func TestLongPollsPollWhenNoOneListens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, false) // Run not started: no LISTEN connection
	tn := partnertest.Seed(t, h.pool, "NoListen", false)
	got := make(chan []byte, 1)
	go func() {
		_, body, _ := h.fetch(edgewire.ChangesPath+"?since=0&wait=25s", token)
		got <- body
	}()
	time.Sleep(100 * time.Millisecond)
	_, err := h.keys.Create(ctx, tn.Owner, catalogKey())
	require.NoError(t, err)
	select {
	case body := <-got:
		assert.Len(t, decodeJSON[edgewire.Changes](t, body).Changes, 2)
	case <-time.After(5 * time.Second):
		t.Fatal("the long-poll did not fall back to polling")
	}
}

func TestChangeFeedRejectsBadParameters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	for _, q := range []string{"", "?since=-1", "?since=x", "?since=0&wait=forever", "?since=0&wait=-1s"} {
		status, body := h.get(t, edgewire.ChangesPath+q, token)
		assert.Equal(t, http.StatusBadRequest, status, "%q: %s", q, body)
	}
}

func TestPageSizeBoundsAnAnswerAndTheEdgeLoops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := partnertest.DB(t)
	server, err := edgesync.New(edgesync.Config{Pool: pool, Tokens: []string{token}, Logger: slog.New(slog.DiscardHandler), PageSize: 3})
	require.NoError(t, err)
	h := &harness{pool: pool, server: server}
	h.start(t, "127.0.0.1:0")
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	for i := range 7 {
		err := edgesync.PublishPartner(ctx, tx, edgewire.Partner{ID: fmt.Sprintf("ptr_%d", i), Status: edgewire.PartnerActive})
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit(ctx))

	var since uint64
	var pages []int
	for range 5 {
		status, body := h.get(t, fmt.Sprintf("%s?since=%d", edgewire.ChangesPath, since), token)
		require.Equal(t, http.StatusOK, status)
		ch := decodeJSON[edgewire.Changes](t, body)
		if len(ch.Changes) == 0 {
			break
		}
		pages = append(pages, len(ch.Changes))
		since = ch.Version
	}
	assert.Equal(t, []int{3, 3, 1}, pages)
	assert.EqualValues(t, 7, since)
}

func TestResyncWhenTheEdgeIsOutsideTheFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	pool := partnertest.DB(t)
	server, err := edgesync.New(edgesync.Config{Pool: pool, Tokens: []string{token}, Logger: slog.New(slog.DiscardHandler),
		Clock: func() time.Time { return now }, Retention: time.Hour})
	require.NoError(t, err)
	h := &harness{pool: pool, server: server}
	h.start(t, "127.0.0.1:0")
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	for i := range 5 {
		err := edgesync.PublishPartner(ctx, tx, edgewire.Partner{ID: fmt.Sprintf("ptr_%d", i), Status: edgewire.PartnerActive})
		require.NoError(t, err)
	}
	require.NoError(t, tx.Commit(ctx))
	// Versions 1-4 are two hours old, 5 is fresh.
	_, err = pool.Exec(ctx, `UPDATE edge_changes SET created_at = $1 WHERE version < 5`, now.Add(-2*time.Hour))
	require.NoError(t, err)

	status, body := h.get(t, edgewire.ChangesPath+"?since=6", token)
	assert.Equal(t, http.StatusGone, status, "ahead of the feed (a restore)")
	assert.Contains(t, string(body), `"code":"resync_required"`)

	pruned, err := server.Prune(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 4, pruned)
	for since, want := range map[int]int{0: http.StatusGone, 3: http.StatusGone, 4: http.StatusOK, 5: http.StatusOK} {
		status, body := h.get(t, fmt.Sprintf("%s?since=%d", edgewire.ChangesPath, since), token)
		assert.Equal(t, want, status, "since=%d: %s", since, body)
	}

	// Pruning never removes the newest change, so edges at the latest version stay valid.
	_, err = pool.Exec(ctx, `UPDATE edge_changes SET created_at = $1`, now.Add(-2*time.Hour))
	require.NoError(t, err)
	pruned, err = server.Prune(ctx)
	require.NoError(t, err)
	assert.Zero(t, pruned)
	status, _ = h.get(t, edgewire.ChangesPath+"?since=5", token)
	assert.Equal(t, http.StatusOK, status)
}

func TestDrainEndsWaitingLongPollsForAGracefulShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	got := make(chan int, 1)
	go func() {
		status, _, _ := h.fetch(edgewire.ChangesPath+"?since=0&wait=25s", token)
		got <- status
	}()
	time.Sleep(100 * time.Millisecond) // let the request start waiting
	h.server.Drain()
	select {
	case status := <-got:
		assert.Equal(t, http.StatusOK, status)
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not end the waiting long-poll")
	}
}
