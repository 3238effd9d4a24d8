package edgesync_test

import (
	"bytes"
	"encoding/json"
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

func TestNewTableSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	s := baseSnapshot()
	bad := testKey("key_bad_cidr", keyformat.Test)
	bad.AllowedCIDRs = []string{"10.0.0.0/99"}
	badEnv := testKey("key_bad_env", "prod")
	noHash := testKey("key_no_hash", keyformat.Test)
	noHash.Hash = keyformat.Hash{}
	orphan := testKey("key_orphan", keyformat.Test)
	orphan.PartnerID = "ptr_unknown"
	s.Keys = append(s.Keys, bad, badEnv, noHash, orphan)

	table, err := edgesync.NewTable(s)
	require.Error(t, err)
	assert.ErrorContains(t, err, "key_bad_cidr")
	assert.ErrorContains(t, err, "key_bad_env")
	assert.ErrorContains(t, err, "key_no_hash")
	assert.Equal(t, 2, table.Len())
	_, ok := table.Lookup(bad.Hash)
	assert.False(t, ok)
	rec, ok := table.Lookup(orphan.Hash)
	require.True(t, ok)
	assert.Equal(t, edgewire.PartnerSuspended, rec.PartnerStatus, "unknown partner fails closed")
}

func TestApply(t *testing.T) {
	t.Parallel()
	table, err := edgesync.NewTable(baseSnapshot())
	require.NoError(t, err)
	a := testKey("key_a", keyformat.Test)
	b := testKey("key_b", keyformat.Live)
	b.AllowedCIDRs = []string{"2001:db8::/32"}
	bBroken := b
	bBroken.AllowedCIDRs = []string{"nope"}
	stale := testKey("key_stale", keyformat.Test)
	hashA := a.Hash

	next, err := table.Apply([]edgewire.Change{
		{Version: 9, Type: edgewire.KeyUpsert, Key: &stale}, // at or below 10: skipped
		{Version: 11, Type: edgewire.KeyUpsert, Key: &b},
		{Version: 12, Type: edgewire.PartnerUpsert, Partner: &edgewire.Partner{ID: "ptr_1", Status: edgewire.PartnerSuspended}},
		{Version: 13, Type: edgewire.KeyDelete, Hash: &hashA},
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(13), next.Version())
	_, ok := next.Lookup(stale.Hash)
	assert.False(t, ok)
	_, ok = next.Lookup(a.Hash)
	assert.False(t, ok)
	rec, ok := next.Lookup(b.Hash)
	require.True(t, ok)
	assert.Equal(t, edgewire.PartnerSuspended, rec.PartnerStatus)
	assert.Equal(t, 1, rec.Allow.Len())

	// The old table is untouched.
	assert.Equal(t, uint64(10), table.Version())
	_, ok = table.Lookup(a.Hash)
	assert.True(t, ok)

	// A bad upsert removes the old record (fail closed) and is reported.
	broken, err := next.Apply([]edgewire.Change{{Version: 14, Type: edgewire.KeyUpsert, Key: &bBroken}, {Version: 15, Type: "mystery"}})
	require.Error(t, err)
	assert.ErrorContains(t, err, "mystery")
	_, ok = broken.Lookup(b.Hash)
	assert.False(t, ok)
	assert.Equal(t, uint64(15), broken.Version())
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	s := baseSnapshot()
	grace := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	k := testKey("key_0", keyformat.Live)
	k.GraceUntil = &grace
	k.AllowedCIDRs = []string{"10.0.0.0/8"}
	s.Keys = append(s.Keys, k)
	table, err := edgesync.NewTable(s)
	require.NoError(t, err)

	out := table.Snapshot()
	assert.Equal(t, s.Version, out.Version)
	require.Len(t, out.Keys, 2)
	assert.Equal(t, "key_0", out.Keys[0].KeyID, "sorted by key id")
	assert.Equal(t, &grace, out.Keys[0].GraceUntil)

	path := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, edgesync.WriteSnapshotFile(path, out))
	back, err := edgesync.ReadSnapshotFile(path)
	require.NoError(t, err)
	assert.Equal(t, out.Keys, back.Keys)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temp files left behind")
}

func writeKeysFile(t *testing.T, path string, f edgesync.File) {
	t.Helper()
	raw, err := json.Marshal(f)
	require.NoError(t, err)
	// Write via rename so the reloader never sees a half-written file.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, raw, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func TestFileSource(t *testing.T) {
	t.Parallel()
	secret, _, err := keyformat.Generate(keyformat.Test, bytes.NewReader(bytes.Repeat([]byte{3}, 32)))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "keys.json")
	file := edgesync.File{
		Partners: []edgewire.Partner{{ID: "ptr_1", Status: edgewire.PartnerActive}},
		Keys:     []edgesync.FileKey{{Secret: secret, Key: edgewire.Key{KeyID: "key_local", PartnerID: "ptr_1", WorkspaceID: "ws_1", Roles: []string{"catalog.read"}}}},
	}
	writeKeysFile(t, path, file)

	src, err := edgesync.NewFileSource(edgesync.FileConfig{Path: path, Logger: slog.New(slog.DiscardHandler), Interval: 5 * time.Millisecond})
	require.NoError(t, err)
	rec, ok := src.Lookup(keyformat.HashOf(secret))
	require.True(t, ok)
	assert.Equal(t, keyformat.Test, rec.Key.Environment)
	assert.Equal(t, edgewire.KeyActive, rec.Key.Status)

	// An invalid edit is refused and the last good keys stay.
	require.NoError(t, os.WriteFile(path, []byte(`{"keys":[{"secret":"sk_test_typo"}]}`), 0o600))
	require.ErrorIs(t, src.Reload(), keyformat.ErrMalformed)
	_, ok = src.Lookup(keyformat.HashOf(secret))
	assert.True(t, ok)

	// Run picks up a valid edit.
	ctx := t.Context()
	go func() { _ = src.Run(ctx) }()
	file.Keys[0].Status = edgewire.KeyRevoked
	writeKeysFile(t, path, file)
	require.Eventually(t, func() bool {
		rec, ok := src.Lookup(keyformat.HashOf(secret))
		return ok && rec.Key.Status == edgewire.KeyRevoked
	}, 2*time.Second, 5*time.Millisecond)
}

func TestFileSourceErrors(t *testing.T) {
	t.Parallel()
	_, err := edgesync.NewFileSource(edgesync.FileConfig{})
	assert.ErrorContains(t, err, "Path")
	_, err = edgesync.NewFileSource(edgesync.FileConfig{Path: filepath.Join(t.TempDir(), "missing.json"), Logger: slog.New(slog.DiscardHandler)})
	assert.Error(t, err)

	secret, _, err := keyformat.Generate(keyformat.Live, bytes.NewReader(bytes.Repeat([]byte{4}, 32)))
	require.NoError(t, err)
	_, err = edgesync.File{Keys: []edgesync.FileKey{{Secret: secret, Key: edgewire.Key{KeyID: "k", Environment: keyformat.Test}}}}.Snapshot()
	assert.ErrorContains(t, err, "does not match")
}
