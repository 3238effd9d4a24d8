package edgesync_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/gateway-plugin/edgesync"
)

func testKey(id string, env keyformat.Environment) edgewire.Key {
	return edgewire.Key{
		Hash: keyformat.HashOf("secret-" + id), KeyID: id, PartnerID: "ptr_1", WorkspaceID: "ws_1",
		Environment: env, Roles: []string{"orders.write", "catalog.read"}, Status: edgewire.KeyActive,
	}
}

func baseSnapshot() edgewire.Snapshot {
	return edgewire.Snapshot{
		Version:     10,
		GeneratedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Keys:        []edgewire.Key{testKey("key_a", keyformat.Test)},
		Partners:    []edgewire.Partner{{ID: "ptr_1", Status: edgewire.PartnerActive}},
	}
}

type clientSetup struct {
	fake   *fakeControlPlane
	client *edgesync.Client
	path   string
}

// setup starts a fake control plane and a client; diskSnap, when set, is written to the
// client's snapshot file first.
func setup(t *testing.T, diskSnap *edgewire.Snapshot) clientSetup {
	t.Helper()
	fake, srv := newFakeControlPlane(t, baseSnapshot())
	path := filepath.Join(t.TempDir(), "edge", "snapshot.json")
	if diskSnap != nil {
		require.NoError(t, edgesync.WriteSnapshotFile(path, *diskSnap))
	}
	client, err := edgesync.NewClient(edgesync.ClientConfig{
		BaseURL: srv.URL, Token: fake.token, SnapshotPath: path,
		Logger: slog.New(slog.DiscardHandler), Wait: 3 * time.Second,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	return clientSetup{fake: fake, client: client, path: path}
}

func run(t *testing.T, c *edgesync.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	_, err := edgesync.NewClient(edgesync.ClientConfig{BaseURL: "ftp://x"})
	require.Error(t, err)
	assert.ErrorContains(t, err, "BaseURL")
	assert.ErrorContains(t, err, "Token")
	assert.ErrorContains(t, err, "Logger")
}

func TestClientAppliesChangeWithinLongPoll(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	assert.False(t, s.client.Ready())
	run(t, s.client)

	require.Eventually(t, func() bool { _, ok := s.client.Lookup(keyformat.HashOf("secret-key_a")); return ok }, 2*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return s.fake.pollCount() > 0 }, 2*time.Second, 5*time.Millisecond)

	revoked := testKey("key_a", keyformat.Test)
	revoked.Status = edgewire.KeyRevoked
	added := testKey("key_b", keyformat.Live)
	start := time.Now()
	s.fake.publish(edgewire.Change{Version: 11, Type: edgewire.KeyUpsert, Key: &revoked})
	s.fake.publish(edgewire.Change{Version: 12, Type: edgewire.KeyUpsert, Key: &added})

	require.Eventually(t, func() bool { return s.client.Table().Version() == 12 }, 2*time.Second, time.Millisecond)
	// The poll waits up to 3s; the change arrived well before that, during the poll.
	assert.Less(t, time.Since(start), time.Second)
	rec, ok := s.client.Lookup(keyformat.HashOf("secret-key_a"))
	require.True(t, ok)
	assert.Equal(t, edgewire.KeyRevoked, rec.Key.Status)
	rec, ok = s.client.Lookup(keyformat.HashOf("secret-key_b"))
	require.True(t, ok)
	assert.Equal(t, []string{"catalog.read", "orders.write"}, rec.Key.Roles)
	assert.Equal(t, edgewire.PartnerActive, rec.PartnerStatus)

	// The new state is on disk too.
	require.Eventually(t, func() bool {
		disk, err := edgesync.ReadSnapshotFile(s.path)
		return err == nil && disk.Version == 12 && len(disk.Keys) == 2
	}, 2*time.Second, 5*time.Millisecond)
}

func TestClientServesDiskSnapshotWhileControlPlaneDown(t *testing.T) {
	t.Parallel()
	disk := baseSnapshot()
	disk.Version = 7
	disk.Keys = append(disk.Keys, testKey("key_disk", keyformat.Live))
	s := setup(t, &disk)
	s.fake.setDown(true)

	// Served from disk before any network round trip.
	require.True(t, s.client.Ready())
	_, ok := s.client.Lookup(keyformat.HashOf("secret-key_disk"))
	require.True(t, ok)

	run(t, s.client)
	time.Sleep(100 * time.Millisecond) // several failed attempts with the short backoff
	_, ok = s.client.Lookup(keyformat.HashOf("secret-key_disk"))
	assert.True(t, ok, "keeps serving the last good state")
	assert.Equal(t, uint64(7), s.client.Table().Version())

	// When the control plane returns, the client catches up from the snapshot.
	s.fake.setDown(false)
	require.Eventually(t, func() bool { return s.client.Table().Version() == 10 }, 2*time.Second, 5*time.Millisecond)
	_, ok = s.client.Lookup(keyformat.HashOf("secret-key_disk"))
	assert.False(t, ok, "the control plane's snapshot replaces the disk one")
}

func TestClientResyncsWhenFeedIsTooOld(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	run(t, s.client)
	require.Eventually(t, func() bool { return s.client.Ready() && s.fake.pollCount() > 0 }, 2*time.Second, 5*time.Millisecond)

	// The control plane moves on and forgets history the edge has not seen: the edge's
	// since=10 is answered 410 and it must refetch the snapshot.
	s.fake.setDown(true)
	added := testKey("key_c", keyformat.Test)
	s.fake.publish(edgewire.Change{Version: 20, Type: edgewire.KeyUpsert, Key: &added})
	s.fake.compact(20)
	s.fake.setDown(false)

	require.Eventually(t, func() bool {
		_, ok := s.client.Lookup(keyformat.HashOf("secret-key_c"))
		return ok
	}, 3*time.Second, 5*time.Millisecond)
	assert.Equal(t, uint64(20), s.client.Table().Version())
}

func TestClientIgnoresCorruptDiskSnapshot(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "snapshot.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	c, err := edgesync.NewClient(edgesync.ClientConfig{BaseURL: "http://127.0.0.1:1", Token: "x", SnapshotPath: path, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	assert.False(t, c.Ready())
}

func TestClientWrongTokenKeepsRetrying(t *testing.T) {
	t.Parallel()
	fake, srv := newFakeControlPlane(t, baseSnapshot())
	c, err := edgesync.NewClient(edgesync.ClientConfig{
		BaseURL: srv.URL, Token: "wrong", Logger: slog.New(slog.DiscardHandler),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	run(t, c)
	time.Sleep(50 * time.Millisecond)
	assert.False(t, c.Ready())
	assert.Equal(t, 0, fake.pollCount())
}

func TestClientResumesFromDiskVersionWithoutSnapshot(t *testing.T) {
	t.Parallel()
	disk := baseSnapshot() // version 10, what the control plane holds
	s := setup(t, &disk)
	run(t, s.client)
	require.Eventually(t, func() bool { return s.fake.pollCount() > 0 }, 2*time.Second, 5*time.Millisecond)
	added := testKey("key_d", keyformat.Test)
	s.fake.publish(edgewire.Change{Version: 11, Type: edgewire.KeyUpsert, Key: &added})
	require.Eventually(t, func() bool {
		_, ok := s.client.Lookup(added.Hash)
		return ok
	}, 2*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0, s.fake.snapshotCount(), "the change feed resumed from the disk version")
}
