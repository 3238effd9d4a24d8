package edgesync

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/steller/platform/contract/edgewire"
)

// readSnapshotFile reads a snapshot written by writeSnapshotFile.
func readSnapshotFile(path string) (edgewire.Snapshot, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return edgewire.Snapshot{}, err
	}
	var s edgewire.Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return edgewire.Snapshot{}, fmt.Errorf("edgesync: decode snapshot file %s: %w", path, err)
	}
	return s, nil
}

// writeSnapshotFile writes s atomically: to a temporary file in the same directory, synced,
// then renamed over path, so a crash leaves either the old or the new snapshot, never half.
func writeSnapshotFile(path string, s edgewire.Snapshot) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("edgesync: encode snapshot: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("edgesync: snapshot dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("edgesync: snapshot temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("edgesync: write snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("edgesync: sync snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("edgesync: close snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("edgesync: install snapshot: %w", err)
	}
	return nil
}
