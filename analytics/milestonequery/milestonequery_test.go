package milestonequery_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/milestonequery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/chcurrent"
	"github.com/steller/platform/internal/testenv"
)

func TestBuildersSQL(t *testing.T) {
	t.Parallel()
	ids := []string{"ptr_a", `ptr_'b`}
	for name, c := range map[string]struct {
		build func(string, []string) (string, []any)
		sql   string
		args  []any
	}{
		"first calls": {milestonequery.FirstCalls,
			"SELECT partner_id, environment, timestamp_ms, request_id FROM `steller`.request_logs" +
				" WHERE has(?, partner_id) AND environment IN (?, ?) AND status >= 200 AND status < 300 AND decision = ?" +
				" ORDER BY partner_id, environment, timestamp_ms, request_id LIMIT 1 BY partner_id, environment",
			[]any{ids, "test", "live", "allow"}},
		"first orders": {milestonequery.FirstOrders,
			"SELECT partner_id, environment, occurred_at_ms, event_id FROM `steller`.order_events" +
				" WHERE has(?, partner_id) AND environment IN (?, ?) AND type = ?" +
				" ORDER BY partner_id, environment, occurred_at_ms, event_id LIMIT 1 BY partner_id, environment",
			[]any{ids, "test", "live", "order.completed"}},
	} {
		t.Run(name, func(t *testing.T) {
			sql, args := c.build("steller", ids)
			assert.Equal(t, c.sql, sql)
			assert.Equal(t, c.args, args)
		})
	}
}

// twin is one database on 18.16 and the same on current ClickHouse, every migration
// applied.
type twin struct {
	old testenv.ClickHouse
	cur *chcurrent.Session
}

func newTwin(t *testing.T) twin {
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
	return twin{old: old, cur: cur}
}

// insert stores rows (values in columns' order) with one insert on each engine.
func (tw twin) insert(t *testing.T, table, columns string, rows [][]any) {
	t.Helper()
	ctx := context.Background()
	insert := "INSERT INTO " + warehouse.QuoteIdentifier(tw.old.Database) + "." + table + " (" + columns + ")"
	batch, err := tw.old.Conn.PrepareBatch(ctx, insert)
	require.NoError(t, err)
	var tuples []string
	var args []any
	for _, r := range rows {
		require.NoError(t, batch.Append(r...))
		tuples = append(tuples, "("+strings.TrimSuffix(strings.Repeat("?, ", len(r)), ", ")+")")
		args = append(args, r...)
	}
	require.NoError(t, batch.Send())
	require.NoError(t, tw.cur.Exec(ctx, insert+" VALUES "+strings.Join(tuples, ", "), args...), "insert on current ClickHouse")
}

// both runs sql on both engines, requires the same answer, and returns it.
func (tw twin) both(t *testing.T, sql string, args []any) chcurrent.Result {
	t.Helper()
	ctx := context.Background()
	rows, err := tw.old.Conn.Query(ctx, sql, args...)
	require.NoError(t, err, "18.16")
	want, err := chcurrent.Collect(rows)
	require.NoError(t, err)
	got, err := tw.cur.Query(ctx, sql, args...)
	require.NoError(t, err, "current ClickHouse %s", tw.cur.Version())
	assert.Equal(t, want.Columns, got.Columns, "columns: 18.16 (expected) and current ClickHouse (actual)")
	assert.Equal(t, want.Rows, got.Rows, "rows: 18.16 (expected) and current ClickHouse (actual)")
	return want
}

func TestFirstCallsAndOrdersOnBothEngines(t *testing.T) {
	t.Parallel()
	tw := newTwin(t)
	base := time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC) // across a month boundary
	ms := func(sec int) int64 { return base.Add(time.Duration(sec) * time.Second).UnixMilli() }
	call := func(id, partner, env string, status int, decision string, sec int) []any {
		at := ms(sec)
		return []any{time.UnixMilli(at).UTC().Truncate(time.Second), uint64(at), id, partner, env, uint16(status), decision, base}
	}
	calls := [][]any{
		call("req_a_404", "ptr_a", "test", 404, "allow", 0),
		call("req_a_403", "ptr_a", "test", 403, "deny", 1),
		call("req_a_2", "ptr_a", "test", 200, "allow", 3),
		call("req_a_1", "ptr_a", "test", 201, "allow", 3), // a tie: the smaller id wins
		call("req_a_late", "ptr_a", "test", 200, "allow", 90),
		call("req_a_live", "ptr_a", "live", 200, "allow", 5),
		call("req_b_500", "ptr_b", "test", 500, "allow", 1),
		call("req_q", `ptr_'q"\?`, "test", 204, "allow", 7),
		call("req_other", "ptr_other", "test", 200, "allow", 0), // not asked for
	}
	callCols := "ts, timestamp_ms, request_id, partner_id, environment, status, decision, ingested_at"
	tw.insert(t, schema.RequestLogsTable, callCols, calls)
	tw.insert(t, schema.RequestLogsTable, callCols, calls[2:6]) // a replayed batch
	order := func(id, typ, partner, env string, sec int) []any {
		at := ms(sec)
		return []any{time.UnixMilli(at).UTC().Truncate(time.Second), at, id, typ, "ord_" + id, partner, env, "p", int64(100), "USD", base}
	}
	orders := [][]any{
		order("evt_a1_created", "order.created", "ptr_a", "test", 10),
		order("evt_a1_completed", "order.completed", "ptr_a", "test", 12),
		order("evt_a2_completed", "order.completed", "ptr_a", "test", 20),
		order("evt_b1_created", "order.created", "ptr_b", "test", 10),
		order("evt_b1_failed", "order.failed", "ptr_b", "test", 11),
		order("evt_q_completed", "order.completed", `ptr_'q"\?`, "live", 30),
	}
	orderCols := "ts, occurred_at_ms, event_id, type, order_id, partner_id, environment, product_id, amount_cents, currency, ingested_at"
	tw.insert(t, schema.OrderEventsTable, orderCols, orders)
	tw.insert(t, schema.OrderEventsTable, orderCols, orders[:3])

	ids := []string{"ptr_a", "ptr_b", `ptr_'q"\?`, "ptr_none"}
	sql, args := milestonequery.FirstCalls(tw.old.Database, ids)
	got := tw.both(t, sql, args)
	assert.Equal(t, [][]string{ // chcurrent's canonical form: strings JSON-quoted
		{q(`ptr_'q"\?`), q("test"), itoa(ms(7)), q("req_q")},
		{q("ptr_a"), q("live"), itoa(ms(5)), q("req_a_live")},
		{q("ptr_a"), q("test"), itoa(ms(3)), q("req_a_1")},
	}, got.Rows)

	sql, args = milestonequery.FirstOrders(tw.old.Database, ids)
	got = tw.both(t, sql, args)
	assert.Equal(t, [][]string{
		{q(`ptr_'q"\?`), q("live"), itoa(ms(30)), q("evt_q_completed")},
		{q("ptr_a"), q("test"), itoa(ms(12)), q("evt_a1_completed")},
	}, got.Rows)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
