package orderquery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderquery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/schema/schematest"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/latency"
	"github.com/steller/platform/internal/testenv"
)

// Benchmark data (issue 12): 1,000,000 orders (2,000,000 events) of 10,000 partners over
// 90 days.
const (
	benchOrders   = 1_000_000
	benchPartners = 10_000
	benchChunk    = 100_000 // orders per INSERT ... SELECT, well inside the 30 s read timeout
	benchQueries  = 200
)

// BenchmarkDaily measures orderquery.Daily over 90 days from the rollup, for one partner
// and for all partners, each beside a baseline in the same run: the same figures counted
// exactly from the raw, deduplicated order_events. Run with -benchtime=1x:
//
//	go test -run '^$' -bench Daily -benchtime 1x -timeout 30m ./analytics/orderquery/
func BenchmarkDaily(b *testing.B) {
	ctx := context.Background()
	ch := testenv.NewClickHouse(b)
	require.NoError(b, schema.Migrate(ctx, ch.Conn, ch.Database))
	end := time.Now().UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -90)
	b.Run("seed", func(b *testing.B) {
		seed := schematest.OrderSeed{Orders: benchOrders, Partners: benchPartners, Start: start, Span: 90 * 24 * time.Hour}
		began := time.Now()
		for off := 0; off < benchOrders; off += benchChunk {
			require.NoError(b, ch.Conn.Exec(ctx, seed.OrderEventsSQL(ch.Database, off, benchChunk)))
		}
		b.ReportMetric(time.Since(began).Seconds(), "seed_s")
		var events, cells uint64
		require.NoError(b, ch.Conn.QueryRow(ctx, "SELECT count() FROM "+warehouse.QuoteIdentifier(ch.Database)+".order_events").Scan(&events))
		require.NoError(b, ch.Conn.QueryRow(ctx, "SELECT count() FROM "+warehouse.QuoteIdentifier(ch.Database)+"."+schema.OrderRollupTable).Scan(&cells))
		require.Equal(b, uint64(2*benchOrders), events)
		b.ReportMetric(float64(cells), "rollup_rows")
	})

	// raw is Daily's figures straight from order_events: each event once (LIMIT 1 BY), then
	// counted and summed per cell and type.
	raw := func(partner string) (string, []any) {
		where, args := "ts >= ? AND ts < ?", []any{start, end}
		if partner != "" {
			where, args = "partner_id = ? AND "+where, append([]any{partner}, args...)
		}
		return "SELECT toDate(ts, 'UTC') AS day, partner_id, environment, product_id, currency," +
			" countIf(type = 'order.created'), sumIf(amount_cents, type = 'order.created')," +
			" countIf(type = 'order.completed'), sumIf(amount_cents, type = 'order.completed')," +
			" countIf(type = 'order.failed'), sumIf(amount_cents, type = 'order.failed')" +
			" FROM (SELECT ts, partner_id, environment, product_id, currency, type, amount_cents FROM " +
			warehouse.QuoteIdentifier(ch.Database) + ".order_events WHERE " + where + " LIMIT 1 BY event_id)" +
			" GROUP BY day, partner_id, environment, product_id, currency ORDER BY day, partner_id, environment, product_id, currency", args
	}
	run := func(sql string, args []any) error {
		rows, err := ch.Conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no rows")
		}
		return nil
	}
	partner := func(i int) string { return fmt.Sprintf("ptr_%d", (i*7919)%benchPartners) }
	daily := func(id string) error {
		f := orderquery.Filter{PartnerID: id, From: start, To: end}
		days, err := orderquery.Read(ctx, ch.Conn, ch.Database, f)
		if err == nil && len(days) == 0 {
			err = fmt.Errorf("no days for %q", id)
		}
		return err
	}

	var rawOne, rawAll latency.Samples
	b.Run("one_partner_90d_raw_events_baseline", func(b *testing.B) {
		rawOne = latency.Measure(b, 5, benchQueries, func(i int) error { return run(raw(partner(i))) })
		latency.Report(b, rawOne, nil)
	})
	b.Run("one_partner_90d_rollup", func(b *testing.B) {
		latency.Report(b, latency.Measure(b, 5, benchQueries, func(i int) error { return daily(partner(i)) }), rawOne)
	})
	b.Run("all_partners_90d_raw_events_baseline", func(b *testing.B) {
		rawAll = latency.Measure(b, 1, 5, func(int) error { return run(raw("")) })
		latency.Report(b, rawAll, nil)
	})
	b.Run("all_partners_90d_rollup", func(b *testing.B) {
		latency.Report(b, latency.Measure(b, 1, 5, func(int) error { return daily("") }), rawAll)
	})
}
