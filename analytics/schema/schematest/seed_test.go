package schematest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/schema/schematest"
)

// The seeds generate what they describe, in chunks, and their SQL runs on both engines.
func TestSeedsGenerateWhatTheyDescribe(t *testing.T) {
	t.Parallel()
	tw := schematest.NewTwin(t)
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	requests := schematest.Seed{Rows: 1_000, Partners: 10, Start: start, Span: 10 * 24 * time.Hour}
	orders := schematest.OrderSeed{Orders: 500, Partners: 10, Start: start, Span: 10 * 24 * time.Hour}
	for _, off := range []int{0, 600} {
		n := min(600, requests.Rows-off)
		require.NoError(t, tw.Old.Conn.Exec(ctx, requests.RequestLogsSQL(tw.Database, off, n)))
		require.NoError(t, tw.Cur.Exec(ctx, requests.RequestLogsSQL(tw.Database, off, n)))
	}
	for _, off := range []int{0, 300} {
		n := min(300, orders.Orders-off)
		require.NoError(t, tw.Old.Conn.Exec(ctx, orders.OrderEventsSQL(tw.Database, off, n)))
		require.NoError(t, tw.Cur.Exec(ctx, orders.OrderEventsSQL(tw.Database, off, n)))
	}

	got := tw.Query(t, "SELECT count(), uniqExact(request_id), uniqExact(partner_id), min(ts) >= ?, max(ts) < ?,"+
		" countIf(status >= 400 AND status < 500) > 0, countIf(environment = 'live') > 0 FROM "+tw.Table("request_logs"),
		start, start.Add(requests.Span))
	assert.Equal(t, [][]string{{"1000", "1000", "10", "1", "1", "1", "1"}}, got.Rows)

	got = tw.Query(t, "SELECT count(), uniqExact(event_id), uniqExact(order_id), uniqExact(partner_id),"+
		" countIf(type = 'order.created'), countIf(type != 'order.created'), countIf(type = 'order.failed') > 0,"+
		" min(amount_cents) >= 500, max(order_created_at_ms) < ? FROM "+tw.Table("order_events"),
		start.Add(orders.Span).UnixMilli())
	assert.Equal(t, [][]string{{"1000", "1000", "500", "10", "500", "500", "1", "1", "1"}}, got.Rows)
}
