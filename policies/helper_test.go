package policies

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	edgeRegoPath = "steller/edge/edge.rego"
	edgeTestPath = "steller/edge/edge_test.rego"
	edgeDataPath = "steller/edge/data.json"
)

// discard is a logger for tests that do not inspect logs.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fixedClock returns a clock that always reads t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// defaultFiles copies the embedded policy tree into a MapFS a test can edit.
func defaultFiles(t *testing.T) fstest.MapFS {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(DefaultSource(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(DefaultSource(), path)
		files[path] = &fstest.MapFile{Data: raw}
		return err
	})
	require.NoError(t, err)
	require.Contains(t, files, edgeRegoPath)
	require.Contains(t, files, edgeTestPath)
	require.Contains(t, files, edgeDataPath)
	return files
}

// replaceIn returns a copy of files where old is replaced by new in the file at path; it
// fails the test if old is absent, so an edit never silently does nothing.
func replaceIn(t *testing.T, files fstest.MapFS, path, old, new string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	for k, v := range files {
		out[k] = v
	}
	src := string(files[path].Data)
	require.Contains(t, src, old, "edit target missing in %s", path)
	out[path] = &fstest.MapFile{Data: []byte(strings.Replace(src, old, new, 1))}
	return out
}

// bundleOf builds a bundle archive from a policy tree.
func bundleOf(t *testing.T, files fs.FS, revision string) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteBundle(&buf, files, revision))
	return buf.Bytes()
}

// newEngine builds an engine on the embedded default with the given cache size.
func newEngine(t *testing.T, cacheSize int) *Engine {
	t.Helper()
	e, err := New(Config{Logger: discard(), CacheSize: cacheSize})
	require.NoError(t, err)
	return e
}

// input returns a valid live input for catalog.list, edited by the options.
func input(edit ...func(*EdgeInput)) EdgeInput {
	in := EdgeInput{
		Method:        "GET",
		Path:          "/v1/catalog",
		Route:         "catalog.list",
		Environment:   "live",
		Roles:         []string{"catalog:read"},
		PartnerID:     "prt_1",
		PartnerStatus: "active",
	}
	for _, f := range edit {
		f(&in)
	}
	return in
}

// tarGz writes files (name to content) as a gzipped tar, for bundles WriteBundle would
// refuse to build.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
