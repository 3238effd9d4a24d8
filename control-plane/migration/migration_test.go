package migration_test

import (
	"context"
	"io/fs"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/internal/testenv"
)

func TestUpAppliesEveryMigrationOnceAndIsRepeatable(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)

	v, err := migration.Up(ctx, pool, logger)
	require.NoError(t, err)
	latest, files := latestVersion(t)
	assert.Equal(t, latest, v)

	var ext int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_extension WHERE extname = 'citext'`).Scan(&ext))
	assert.Equal(t, 1, ext)

	again, err := migration.Up(ctx, pool, logger)
	require.NoError(t, err)
	assert.Equal(t, v, again)
	var applied int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied))
	assert.Equal(t, files, applied, "every migration applied exactly once")
}

// latestVersion reads the newest migration number from the embedded files' names, and
// how many files there are.
func latestVersion(t *testing.T) (int64, int) {
	t.Helper()
	names, err := fs.Glob(migration.Files(), "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	var latest int64
	for _, n := range names {
		var v int64
		for _, r := range n {
			if r < '0' || r > '9' {
				break
			}
			v = v*10 + int64(r-'0')
		}
		latest = max(latest, v)
	}
	return latest, len(names)
}
