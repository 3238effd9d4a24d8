package schema

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/testenv"
)

// A crash between an ALTER and its record re-runs the ALTER on the next start; 18.16 has
// no ADD COLUMN IF NOT EXISTS, so the runner must take "column already exists" as applied.
func TestMigrateRerunsAnAlterThatRanBeforeACrash(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"migrations/0001_t.sql":     {Data: []byte("CREATE TABLE IF NOT EXISTS {{.DB}}.t (a UInt8) ENGINE = MergeTree() ORDER BY a;\n")},
		"migrations/0002_t_b.sql":   {Data: []byte("-- a later column\nALTER TABLE {{.DB}}.t ADD COLUMN b String DEFAULT '';\n")},
		"migrations/0003_t_bad.sql": {Data: []byte("ALTER TABLE {{.DB}}.t ADD COLUMN c NoSuchType;\n")},
	}
	all, err := loadMigrations(fsys)
	require.NoError(t, err)
	require.Len(t, all, 3)

	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all[:1]))
	stmts, err := all[1].Statements(ch.Database)
	require.NoError(t, err)
	require.NoError(t, ch.Conn.Exec(ctx, stmts[0]), "the ALTER ran, then the process died before recording it")

	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all[:2]))
	versions, err := AppliedVersions(ctx, ch.Conn, ch.Database)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2}, versions)

	err = migrate(ctx, ch.Conn, ch.Database, all)
	assert.ErrorContains(t, err, "0003_t_bad.sql", "other errors still fail the migration")
	versions, err = AppliedVersions(ctx, ch.Conn, ch.Database)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2}, versions, "a failed migration is not recorded")
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fstest.MapFS{
		"not numbered": {"migrations/create.sql": {Data: []byte("SELECT 1")}},
		"two of one":   {"migrations/0001_a.sql": {Data: []byte("SELECT 1")}, "migrations/0001_b.sql": {Data: []byte("SELECT 1")}},
	} {
		_, err := loadMigrations(fsys)
		assert.Error(t, err, name)
	}
}
