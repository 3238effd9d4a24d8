package schema

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/testenv"
)

// Migrations 0008 and 0009 fill their tables from what request_logs and order_events
// already hold, and their views then add what is stored after them: the activity of 2xx
// requests only, and every day, week and month of order events as touched and never
// computed.
func TestActivityAndOrderDaysCoverRowsStoredBeforeAndAfterTheirMigrations(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	all, err := Migrations()
	require.NoError(t, err)
	require.Equal(t, uint32(8), all[7].Version)
	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all[:7]))

	db := "`" + ch.Database + "`"
	day1 := time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(2 * time.Second) // 2026-03-02 00:00:01 UTC
	requests := func(rows ...[]any) {
		t.Helper()
		b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+db+".request_logs (ts, timestamp_ms, request_id, partner_id, environment, status, schema_version, ingested_at)")
		require.NoError(t, err)
		for _, r := range rows {
			require.NoError(t, b.Append(r[0], uint64(r[0].(time.Time).UnixMilli()), r[1], r[2], r[3], r[4], uint8(1), r[0]))
		}
		require.NoError(t, b.Send())
	}
	orders := func(ts time.Time, id string) {
		t.Helper()
		b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+db+".order_events (ts, occurred_at_ms, event_id, type, partner_id, environment, amount_cents, currency, ingested_at)")
		require.NoError(t, err)
		require.NoError(t, b.Append(ts, ts.UnixMilli(), id, "order.created", "ptr_a", "test", int64(100), "USD", ts))
		require.NoError(t, b.Send())
	}
	requests(
		[]any{day1, "req_1", "ptr_a", "test", uint16(200)},
		[]any{day1, "req_2", "ptr_b", "test", uint16(404)}, // not active
		[]any{day2, "req_3", "ptr_b", "live", uint16(299)},
		[]any{day2, "req_4", "ptr_b", "live", uint16(300)},
	)
	orders(day1, "evt_1")

	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all))
	requests(
		[]any{day1, "req_1", "ptr_a", "test", uint16(200)}, // a redelivery
		[]any{day2, "req_5", "ptr_a", "test", uint16(204)},
		[]any{day2, "req_6", "ptr_c", "live", uint16(500)},
	)
	orders(day2, "evt_2")

	activity := query(t, ch, "SELECT period, toString(bucket), partner_id, environment FROM "+db+".partner_activity"+
		" GROUP BY period, bucket, partner_id, environment ORDER BY period, bucket, partner_id, environment")
	assert.Equal(t, [][]string{
		{"day", "2026-03-01", "ptr_a", "test"}, {"day", "2026-03-02", "ptr_a", "test"}, {"day", "2026-03-02", "ptr_b", "live"},
		{"month", "2026-03-01", "ptr_a", "test"}, {"month", "2026-03-01", "ptr_b", "live"},
		// 2026-03-01 is a Sunday: its week started on 2026-02-23.
		{"week", "2026-02-23", "ptr_a", "test"}, {"week", "2026-03-02", "ptr_a", "test"}, {"week", "2026-03-02", "ptr_b", "live"},
	}, activity)
	periods := query(t, ch, "SELECT period, toString(bucket), toString(maxMerge(touched_at) > toDateTime(0)), toString(toUnixTimestamp(maxMerge(computed_at)))"+
		" FROM "+db+".order_periods GROUP BY period, bucket ORDER BY period, bucket")
	assert.Equal(t, [][]string{
		{"day", "2026-03-01", "1", "0"}, {"day", "2026-03-02", "1", "0"}, {"month", "2026-03-01", "1", "0"},
		{"week", "2026-02-23", "1", "0"}, {"week", "2026-03-02", "1", "0"},
	}, periods, "touched, never computed")
}

// query runs sql and returns its String columns, row by row.
func query(t *testing.T, ch testenv.ClickHouse, sql string) [][]string {
	t.Helper()
	rows, err := ch.Conn.Query(context.Background(), sql)
	require.NoError(t, err)
	defer rows.Close()
	var out [][]string
	n := len(rows.Columns())
	for rows.Next() {
		row := make([]string, n)
		dest := make([]any, n)
		for i := range row {
			dest[i] = &row[i]
		}
		require.NoError(t, rows.Scan(dest...))
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}
