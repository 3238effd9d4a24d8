package edgesync_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/gateway-plugin/edge"
	edgeclient "github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/internal/testclock"
)

// newClockedHarness is newHarness (running) with the key service and the server on clock
// and the given dead-key grace.
func newClockedHarness(t *testing.T, clock *testclock.Clock, grace time.Duration) *harness {
	t.Helper()
	pool := partnertest.DB(t)
	log := slog.New(slog.DiscardHandler)
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: log, Clock: clock.Now})
	require.NoError(t, err)
	server, err := edgesync.New(edgesync.Config{Pool: pool, Tokens: []string{token}, Logger: log, Clock: clock.Now,
		DeadKeyGrace: grace, PruneEvery: time.Hour, PollEvery: 200 * time.Millisecond})
	require.NoError(t, err)
	h := &harness{pool: pool, keys: keys, server: server}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = server.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, server.Listening, 5*time.Second, 5*time.Millisecond, "LISTEN connection up")
	h.start(t, "127.0.0.1:0")
	return h
}

// snapshotHashes fetches a snapshot and returns its keys' hashes.
func (h *harness) snapshotHashes(t *testing.T) map[keyformat.Hash]edgewire.KeyStatus {
	t.Helper()
	_, body := h.get(t, edgewire.SnapshotPath, token)
	out := map[keyformat.Hash]edgewire.KeyStatus{}
	for _, k := range decodeJSON[edgewire.Snapshot](t, body).Keys {
		out[k.Hash] = k.Status
	}
	return out
}

// TestDeadKeysLeaveEdgesAfterTheirGrace: keys revoked, expired, or past a roll's grace
// longer ago than the dead-key grace leave the snapshot at once, and the sweep deletes
// them from an edge that got them earlier, which then answers invalid_key instead of
// key_revoked or key_expired; keys dead for less time, and live ones, stay. A deleted key
// is never published again, even when it is changed.
func TestDeadKeysLeaveEdgesAfterTheirGrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(time.Now().Truncate(time.Second))
	h := newClockedHarness(t, clock, time.Hour)
	tn := partnertest.Seed(t, h.pool, "Churn", false)
	create := func(expires *time.Time) apikey.Created {
		s := catalogKey()
		s.ExpiresAt = expires
		k, err := h.keys.Create(ctx, tn.Owner, s)
		require.NoError(t, err)
		return k
	}
	alive := create(nil)
	revoked := create(nil)
	soon := clock.Now().Add(time.Minute)
	expired := create(&soon)
	rolledOld := create(nil)
	lateRevoked := create(nil)
	_, err := h.keys.Revoke(ctx, tn.Owner, revoked.Key.ID)
	require.NoError(t, err)
	rolled, err := h.keys.Roll(ctx, tn.Owner, rolledOld.Key.ID, 10*time.Minute)
	require.NoError(t, err)

	h.connect(t, 25*time.Second)
	core := newEdgeCore(t, h.client)
	for _, k := range []apikey.Created{alive, revoked, expired, rolledOld, rolled.New, lateRevoked} {
		h.until(t, k.Secret, propagation, func(_ *edgeclient.Record, ok bool) bool { return ok })
	}

	// Two hours on, one more key is revoked: it is within its grace, the others past theirs.
	clock.Advance(2 * time.Hour)
	core.setClock(clock.Now())
	_, err = h.keys.Revoke(ctx, tn.Owner, lateRevoked.Key.ID)
	require.NoError(t, err)
	h.until(t, lateRevoked.Secret, propagation, func(r *edgeclient.Record, ok bool) bool { return ok && r.Key.Status == edgewire.KeyRevoked })
	assert.Equal(t, edge.CodeKeyRevoked, core.decide(revoked.Secret, "203.0.113.9"), "the edge still has what it was sent")
	assert.Equal(t, edge.CodeKeyExpired, core.decide(expired.Secret, "203.0.113.9"))

	gone := []apikey.Created{revoked, expired, rolledOld}
	kept := map[keyformat.Hash]edgewire.KeyStatus{
		keyformat.HashOf(alive.Secret): edgewire.KeyActive, keyformat.HashOf(rolled.New.Secret): edgewire.KeyActive,
		keyformat.HashOf(lateRevoked.Secret): edgewire.KeyRevoked,
	}
	assert.Equal(t, kept, h.snapshotHashes(t), "a new snapshot leaves the long-dead keys out before any sweep")

	deleted, err := h.server.DeleteDeadKeys(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, len(gone), deleted)
	for _, k := range gone {
		h.until(t, k.Secret, propagation, func(_ *edgeclient.Record, ok bool) bool { return !ok })
		assert.Equal(t, edge.CodeInvalidKey, core.decide(k.Secret, "203.0.113.9"), "after its grace a dead key is unknown")
	}
	assert.Equal(t, edge.CodeKeyRevoked, core.decide(lateRevoked.Secret, "203.0.113.9"), "within its grace it is still key_revoked")
	assert.Equal(t, "", core.decide(alive.Secret, "203.0.113.9"))
	assert.Equal(t, "", core.decide(rolled.New.Secret, "203.0.113.9"))
	var deletes int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM edge_changes WHERE type = $1`, string(edgewire.KeyDelete)).Scan(&deletes))
	assert.Equal(t, len(gone), deletes)

	// Revoking the deleted, expired key changes it, but must not bring it back to edges.
	_, err = h.keys.Revoke(ctx, tn.Owner, expired.Key.ID)
	require.NoError(t, err)
	var upserts int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM edge_changes WHERE type = $1 AND payload->>'key_id' = $2`,
		string(edgewire.KeyUpsert), expired.Key.ID).Scan(&upserts))
	assert.Equal(t, 1, upserts, "only its creation was published")
	again, err := h.server.DeleteDeadKeys(ctx)
	require.NoError(t, err)
	assert.Zero(t, again, "each key is deleted from edges once")
	assert.Equal(t, kept, h.snapshotHashes(t))

	// An edge that starts now gets the same keys from the snapshot.
	fresh := h.connect(t, time.Second)
	for _, k := range gone {
		_, ok := fresh.Lookup(keyformat.HashOf(k.Secret))
		assert.False(t, ok, "a fresh edge never learns %s", k.Key.ID)
	}
}

// TestTheSweepRunsInBatches: more dead keys than one sweep transaction takes all leave.
func TestTheSweepRunsInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testclock.New(time.Now().Truncate(time.Second))
	h := newClockedHarness(t, clock, time.Minute)
	tn := partnertest.Seed(t, h.pool, "Many", false)
	const n = 1203 // more than two batches of 500
	_, err := h.pool.Exec(ctx, `INSERT INTO api_keys (id, partner_id, workspace_id, environment, name, display, hash, status, revoked_at, created_by)
		SELECT 'key_' || i, $1, $2, 'test', 'old', 'sk_test_x', sha256(i::text::bytea), 'revoked', $3, 'usr_seed'
		FROM generate_series(1, $4) AS i`, tn.PartnerID, tn.WorkspaceID, clock.Now(), n)
	require.NoError(t, err)
	clock.Advance(2 * time.Minute)
	deleted, err := h.server.DeleteDeadKeys(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, deleted)
	var left int
	require.NoError(t, h.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE edge_deleted_at IS NULL`).Scan(&left))
	assert.Zero(t, left)
	assert.Empty(t, h.snapshotHashes(t))
}
