// Package schematest gives tests the analytics schema on both ClickHouse engines: the
// 18.16 server of the test stack and current ClickHouse (chdb, internal/chcurrent), with
// every migration applied, the same rows inserted into both, and a query run on both and
// required to answer alike. Query builders use it to prove their SQL runs everywhere.
package schematest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/chcurrent"
	"github.com/steller/platform/internal/testenv"
)

// Twin is one database on 18.16 and the same database on current ClickHouse.
type Twin struct {
	// Old is the test's database on the 18.16 server.
	Old testenv.ClickHouse
	// Cur is the shared current-ClickHouse session holding a database of the same name.
	Cur *chcurrent.Session
	// Database is the name of both databases.
	Database string
}

// NewTwin creates the database on both engines and applies every migration to each, as
// schema.Migrate does (without its bookkeeping on current ClickHouse).
func NewTwin(t testing.TB) Twin {
	t.Helper()
	ctx := context.Background()
	old := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, old.Conn, old.Database))
	cur := chcurrent.Shared(t)
	cur.CreateDatabase(t, old.Database)
	migrations, err := schema.Migrations()
	require.NoError(t, err)
	for _, m := range migrations {
		stmts, err := m.Statements(old.Database)
		require.NoError(t, err)
		_, err = cur.Run(ctx, stmts...)
		require.NoError(t, err, "migration %s fails on current ClickHouse %s", m.Name, cur.Version())
	}
	return Twin{Old: old, Cur: cur, Database: old.Database}
}

// Table returns table's name qualified with the twin's database, quoted.
func (tw Twin) Table(table string) string {
	return warehouse.QuoteIdentifier(tw.Database) + "." + table
}

// Insert stores rows (one value per column, in order) into table with one batch on each
// engine, as one ingest batch would: a second call with the same rows is a redelivery,
// which materialized views see again.
func (tw Twin) Insert(t testing.TB, table string, columns []string, rows [][]any) {
	t.Helper()
	ctx := context.Background()
	insert := "INSERT INTO " + tw.Table(table) + " (" + strings.Join(columns, ", ") + ")"
	batch, err := tw.Old.Conn.PrepareBatch(ctx, insert)
	require.NoError(t, err)
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	tuples := make([]string, 0, len(rows))
	var args []any
	for _, r := range rows {
		require.NoError(t, batch.Append(r...))
		tuples = append(tuples, tuple)
		args = append(args, r...)
	}
	require.NoError(t, batch.Send())
	require.NoError(t, tw.Cur.Exec(ctx, insert+" VALUES "+strings.Join(tuples, ", "), args...), "insert on current ClickHouse")
}

// Query runs sql on both engines, fails the test unless both answer the same columns and
// rows (18.16's answer is the expected one), and returns that answer.
func (tw Twin) Query(t testing.TB, sql string, args ...any) chcurrent.Result {
	t.Helper()
	ctx := context.Background()
	rows, err := tw.Old.Conn.Query(ctx, sql, args...)
	require.NoError(t, err, "18.16 refuses:\n%s", sql)
	want, err := chcurrent.Collect(rows)
	require.NoError(t, err)
	got, err := tw.Cur.Query(ctx, sql, args...)
	require.NoError(t, err, "current ClickHouse %s refuses:\n%s", tw.Cur.Version(), sql)
	require.Equal(t, want.Columns, got.Columns, "columns: 18.16 (expected) and current ClickHouse (actual) differ\n%s", sql)
	require.Equal(t, Lines(want), Lines(got), "rows: 18.16 (expected) and current ClickHouse (actual) differ\n%s", sql)
	return want
}

// Lines prints a result's rows one per line, for readable comparisons.
func Lines(r chcurrent.Result) string {
	var b strings.Builder
	for _, row := range r.Rows {
		b.WriteString(strings.Join(row, " ") + "\n")
	}
	return b.String()
}
