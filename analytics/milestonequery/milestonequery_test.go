package milestonequery_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/analytics/milestonequery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/schema/schematest"
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

func TestFirstCallsAndOrdersOnBothEngines(t *testing.T) {
	t.Parallel()
	tw := schematest.NewTwin(t)
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
	insertRows(t, tw, schema.RequestLogsTable, callCols, calls)
	insertRows(t, tw, schema.RequestLogsTable, callCols, calls[2:6]) // a replayed batch
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
	insertRows(t, tw, schema.OrderEventsTable, orderCols, orders)
	insertRows(t, tw, schema.OrderEventsTable, orderCols, orders[:3])

	ids := []string{"ptr_a", "ptr_b", `ptr_'q"\?`, "ptr_none"}
	sql, args := milestonequery.FirstCalls(tw.Database, ids)
	got := tw.Query(t, sql, args...)
	assert.Equal(t, [][]string{ // chcurrent's canonical form: strings JSON-quoted
		{q(`ptr_'q"\?`), q("test"), itoa(ms(7)), q("req_q")},
		{q("ptr_a"), q("live"), itoa(ms(5)), q("req_a_live")},
		{q("ptr_a"), q("test"), itoa(ms(3)), q("req_a_1")},
	}, got.Rows)

	sql, args = milestonequery.FirstOrders(tw.Database, ids)
	got = tw.Query(t, sql, args...)
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

// insertRows stores rows (values in columns' order, a comma-separated list) with one
// batch on each engine.
func insertRows(t *testing.T, tw schematest.Twin, table, columns string, rows [][]any) {
	t.Helper()
	tw.Insert(t, table, strings.Split(columns, ", "), rows)
}
