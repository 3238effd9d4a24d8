package schema

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/chcurrent"
	"github.com/steller/platform/internal/testenv"
)

// Production runs current ClickHouse (24.x and later), the tests' server is 18.16: every
// embedded migration, split as Migrate splits it, must run on current ClickHouse too
// (chdb, see internal/chcurrent), into the same tables and columns as on 18.16.
func TestMigrationsRunOnCurrentClickHouse(t *testing.T) {
	t.Parallel()
	cur := chcurrent.Shared(t)
	ctx := context.Background()
	migrations, err := Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, migrations)
	db := cur.NewDatabase(t)
	applyOnCurrent(t, cur, db, migrations)

	// The same tables and columns as Migrate makes on 18.16. schema_migrations is the
	// runner's own table (written by Migrate, not by a migration): left out. So are the
	// columns of materialized views, which store nothing (their TO table does) and which
	// 18.16 types with the server's zone (minute is DateTime('Etc/UTC') there).
	old := testenv.NewClickHouse(t)
	require.NoError(t, Migrate(ctx, old.Conn, old.Database))
	for _, q := range []struct {
		sql              string
		oldArgs, curArgs []any
	}{
		{"SELECT name, engine FROM system.tables WHERE database = ? AND name != ? ORDER BY name",
			[]any{old.Database, MigrationsTable}, []any{db, MigrationsTable}},
		{"SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = ? AND table IN" +
			" (SELECT name FROM system.tables WHERE database = ? AND name != ? AND engine != 'MaterializedView') ORDER BY table, name",
			[]any{old.Database, old.Database, MigrationsTable}, []any{db, db, MigrationsTable}},
	} {
		rows, err := old.Conn.Query(ctx, q.sql, q.oldArgs...)
		require.NoError(t, err)
		want, err := chcurrent.Collect(rows)
		require.NoError(t, err)
		got, err := cur.Query(ctx, q.sql, q.curArgs...)
		require.NoError(t, err)
		require.NotEmpty(t, want.Rows)
		assert.Equal(t, lines(want), lines(got), "%s\n18.16 (expected) and current ClickHouse (actual) differ", q.sql)
	}
}

// lines shows a result one row a line, for readable diffs.
func lines(r chcurrent.Result) string {
	var b strings.Builder
	for _, row := range r.Rows {
		b.WriteString(strings.Join(row, " ") + "\n")
	}
	return b.String()
}

// Migrate has no lock and re-runs a migration interrupted before its record, so running a
// migration's statements again must either succeed or fail in the one way Migrate takes
// as done (an ADD COLUMN of a column that exists), on current ClickHouse too.
func TestMigrationsRunTwiceOnCurrentClickHouse(t *testing.T) {
	t.Parallel()
	cur := chcurrent.Shared(t)
	ctx := context.Background()
	migrations, err := Migrations()
	require.NoError(t, err)
	db := cur.NewDatabase(t)
	for _, m := range migrations {
		applyOnCurrent(t, cur, db, []Migration{m})
		stmts, err := m.Statements(db)
		require.NoError(t, err)
		for i, s := range stmts {
			_, err := cur.Run(ctx, s)
			if err == nil {
				continue
			}
			assert.True(t, alreadyApplied(s, asException(t, err)),
				"%s statement %d fails when run again on current ClickHouse, and Migrate would not take it as applied: %v", m.Name, i, err)
		}
	}
}

// The retention statements (PartitionsQuery, DropPartitionSQL) and DedupSubquery run on
// current ClickHouse and answer as on 18.16.
func TestRetentionAndDedupRunOnCurrentClickHouse(t *testing.T) {
	t.Parallel()
	cur := chcurrent.Shared(t)
	ctx := context.Background()
	migrations, err := Migrations()
	require.NoError(t, err)
	db := cur.NewDatabase(t)
	applyOnCurrent(t, cur, db, migrations)
	old := testenv.NewClickHouse(t)
	require.NoError(t, Migrate(ctx, old.Conn, old.Database))

	// Two months, one request stored twice (a redelivery).
	feb, mar := time.Date(2026, 2, 27, 23, 59, 59, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const columns = "ts, timestamp_ms, request_id, partner_id, route, status, schema_version, ingested_at"
	rows := [][]any{
		{feb, uint64(feb.UnixMilli()), "req_1", "ptr_1", "catalog.list", uint16(200), uint8(1), feb},
		{mar, uint64(mar.UnixMilli()), "req_2", "ptr_1", "orders.create", uint16(500), uint8(1), mar},
		{mar, uint64(mar.UnixMilli()), "req_2", "ptr_1", "orders.create", uint16(500), uint8(1), mar},
	}
	batch, err := old.Conn.PrepareBatch(ctx, "INSERT INTO "+warehouse.QuoteIdentifier(old.Database)+"."+RequestLogsTable+" ("+columns+")")
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, batch.Append(r...))
	}
	require.NoError(t, batch.Send())
	for _, r := range rows {
		require.NoError(t, cur.Exec(ctx, "INSERT INTO "+warehouse.QuoteIdentifier(db)+"."+RequestLogsTable+" ("+columns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)", r...))
	}

	both := func(oldSQL string, oldArgs []any, curSQL string, curArgs []any) chcurrent.Result {
		t.Helper()
		r, err := old.Conn.Query(ctx, oldSQL, oldArgs...)
		require.NoError(t, err, oldSQL)
		want, err := chcurrent.Collect(r)
		require.NoError(t, err)
		got, err := cur.Query(ctx, curSQL, curArgs...)
		require.NoError(t, err, "current ClickHouse")
		assert.Equal(t, want.Rows, got.Rows, "18.16 and current ClickHouse differ on\n%s", curSQL)
		return got
	}

	oldSQL, oldArgs := PartitionsQuery(old.Database)
	curSQL, curArgs := PartitionsQuery(db)
	parts := both(oldSQL, oldArgs, curSQL, curArgs)
	assert.Equal(t, [][]string{
		{`"request_logs"`, `"202602"`}, {`"request_logs"`, `"202603"`},
		{`"request_rollup_1m"`, `"202602"`}, {`"request_rollup_1m"`, `"202603"`},
	}, parts.Rows)

	dedup := func(database string) string {
		return "SELECT request_id, status FROM " + DedupSubquery(database, "partner_id = ? AND ts >= ?") + " ORDER BY request_id"
	}
	ids := both(dedup(old.Database), []any{"ptr_1", feb}, dedup(db), []any{"ptr_1", feb})
	assert.Equal(t, [][]string{{`"req_1"`, "200"}, {`"req_2"`, "500"}}, ids.Rows, "one row per request id")

	for _, table := range RetainedTables {
		drop, err := DropPartitionSQL(db, Partition{Table: table, Month: "202602"})
		require.NoError(t, err)
		require.NoError(t, cur.Exec(ctx, drop))
	}
	left, err := cur.Query(ctx, curSQL, curArgs...)
	require.NoError(t, err)
	assert.Equal(t, [][]string{{`"request_logs"`, `"202603"`}, {`"request_rollup_1m"`, `"202603"`}}, left.Rows)
}

// applyOnCurrent runs migrations on current ClickHouse as Migrate runs them: in order,
// each split by Migration.Statements, for database db.
func applyOnCurrent(t *testing.T, cur *chcurrent.Session, db string, migrations []Migration) {
	t.Helper()
	for _, m := range migrations {
		stmts, err := m.Statements(db)
		require.NoError(t, err)
		_, err = cur.Run(context.Background(), stmts...)
		require.NoError(t, err, "migration %s fails on current ClickHouse %s", m.Name, cur.Version())
	}
}

var exceptionCode = regexp.MustCompile(`^Code: (\d+)\. `)

// asException turns chdb's error text ("Code: 15. DB::Exception: ...") into the
// exception clickhouse-go would return for it, for alreadyApplied.
func asException(t *testing.T, err error) error {
	t.Helper()
	var stmtErr *chcurrent.StatementError
	require.True(t, errors.As(err, &stmtErr), "%v", err)
	m := exceptionCode.FindStringSubmatch(stmtErr.Message)
	require.NotNil(t, m, "no error code in %q", stmtErr.Message)
	code, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return &clickhouse.Exception{Code: int32(code), Name: "DB::Exception", Message: stmtErr.Message}
}
