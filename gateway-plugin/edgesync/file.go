package edgesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/steller/platform/contract/edgewire"

	"github.com/steller/platform/contract/keyformat"
)

// FileKey is a key in a static keys file: a Key whose hash may instead be given as the
// secret itself, which is convenient for local runs (never do this in production).
type FileKey struct {
	edgewire.Key
	// Secret, when set, is parsed (prefix and checksum) and hashed into Hash; its
	// environment must match Environment when that is set too.
	Secret string `json:"secret,omitempty"`
}

// File is the JSON document a FileSource reads:
//
//	{"partners":[{"id":"ptr_1","status":"active"}],
//	 "keys":[{"secret":"sk_test_…","key_id":"key_1","partner_id":"ptr_1",
//	          "workspace_id":"ws_1","roles":["orders:write"],"status":"active"}]}
type File struct {
	// Version is optional; it is reported as the table version.
	Version uint64 `json:"version"`
	// Partners are the partners.
	Partners []edgewire.Partner `json:"partners"`
	// Keys are the keys.
	Keys []FileKey `json:"keys"`
}

// Snapshot converts the file to a snapshot, hashing secrets; it fails on a bad secret.
// A key without a status is active.
func (f File) Snapshot() (edgewire.Snapshot, error) {
	s := edgewire.Snapshot{Version: f.Version, Partners: f.Partners, Keys: make([]edgewire.Key, 0, len(f.Keys))}
	for i, fk := range f.Keys {
		k := fk.Key
		if fk.Secret != "" {
			parsed, err := keyformat.Parse(fk.Secret)
			if err != nil {
				return edgewire.Snapshot{}, fmt.Errorf("edgesync: keys file entry %d (%s): %w", i, fk.KeyID, err)
			}
			if k.Environment != "" && k.Environment != parsed.Environment {
				return edgewire.Snapshot{}, fmt.Errorf("edgesync: keys file entry %d (%s): environment %q does not match the secret's %q", i, fk.KeyID, k.Environment, parsed.Environment)
			}
			k.Hash, k.Environment = parsed.Hash, parsed.Environment
		}
		if k.Status == "" {
			k.Status = edgewire.KeyActive
		}
		s.Keys = append(s.Keys, k)
	}
	return s, nil
}

// FileConfig configures a FileSource.
type FileConfig struct {
	// Path is the JSON keys file (required).
	Path string
	// Logger receives reload results (required).
	Logger *slog.Logger
	// Interval is how often Run checks the file for changes; zero means 2s.
	Interval time.Duration
}

// FileSource serves keys from a static JSON file, for local runs and tests. It reloads when
// the file changes (Run) or on demand (Reload), and keeps the last good table when the file
// becomes unreadable or invalid.
type FileSource struct {
	cfg    FileConfig
	tables store
	// modTime and size identify the loaded file version; only Reload and Run touch them,
	// and Run is the only caller of Reload once started.
	modTime time.Time
	size    int64
}

// NewFileSource validates cfg and loads the file; a file that cannot be loaded at start is
// an error.
func NewFileSource(cfg FileConfig) (*FileSource, error) {
	var errs []error
	if cfg.Path == "" {
		errs = append(errs, errors.New("edgesync: keys file Path is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("edgesync: Logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	f := &FileSource{cfg: cfg}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Lookup finds a key in the current table.
func (f *FileSource) Lookup(h keyformat.Hash) (*Record, bool) { return f.tables.Lookup(h) }

// Table returns the current table.
func (f *FileSource) Table() *Table { return f.tables.Table() }

// Reload reads the file again and swaps in the new table. On error the previous table
// stays. Keys with unusable fields make Reload fail too: a local file is edited by hand, and
// silently dropping a key would hide the typo. Do not call it concurrently with Run.
func (f *FileSource) Reload() error {
	info, err := os.Stat(f.cfg.Path)
	if err != nil {
		return fmt.Errorf("edgesync: keys file: %w", err)
	}
	raw, err := os.ReadFile(f.cfg.Path)
	if err != nil {
		return fmt.Errorf("edgesync: keys file: %w", err)
	}
	var file File
	if err := json.Unmarshal(raw, &file); err != nil {
		return fmt.Errorf("edgesync: keys file %s: %w", f.cfg.Path, err)
	}
	s, err := file.Snapshot()
	if err != nil {
		return err
	}
	t, err := NewTable(s)
	if err != nil {
		return err
	}
	f.tables.current.Store(t)
	f.modTime, f.size = info.ModTime(), info.Size()
	f.cfg.Logger.Info("edge keys file loaded", "path", f.cfg.Path, "keys", t.Len())
	return nil
}

// Run checks the file every Interval and reloads it when its size or modification time
// changed, until ctx is done. It returns ctx's error.
func (f *FileSource) Run(ctx context.Context) error {
	tick := time.NewTicker(f.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		info, err := os.Stat(f.cfg.Path)
		if err != nil {
			f.cfg.Logger.Warn("edge keys file unreadable, keeping last good keys", "path", f.cfg.Path, "err", err)
			continue
		}
		if info.ModTime().Equal(f.modTime) && info.Size() == f.size {
			continue
		}
		if err := f.Reload(); err != nil {
			f.cfg.Logger.Warn("edge keys file invalid, keeping last good keys", "path", f.cfg.Path, "err", err)
			f.modTime, f.size = info.ModTime(), info.Size() // do not retry until it changes again
		}
	}
}
