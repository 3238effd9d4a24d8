package logquery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/schema/schematest"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/latency"
)

// Benchmark data: 10,000,000 requests of 1,000 partners over 30 days (two monthly
// partitions), 10,000 per partner, 5% 4xx (half of them denials), 2% 5xx, eight routes.
const (
	benchRows     = 10_000_000
	benchPartners = 1_000
	benchChunk    = 1_000_000 // one INSERT ... SELECT each: ~5 s, well inside the 30 s read timeout
	benchQueries  = 200
)

var benchStart = time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)

// benchSeed is the benchmark's request log: partner n%1000 gets one row per 259.2 s step
// (n/1000), at a hashed offset within the step.
var benchSeed = schematest.Seed{Rows: benchRows, Partners: benchPartners, Start: benchStart, Span: 30 * 24 * time.Hour}

// timings runs query n times, each for the next partner, and returns the sorted
// latencies.
func timings(b *testing.B, n int, query func(partner string) error) latency.Samples {
	b.Helper()
	return latency.Measure(b, 0, n, func(i int) error { return query(fmt.Sprintf("ptr_%d", (i*37)%benchPartners)) })
}

// BenchmarkQueries measures the log explorer's filtered page and the 30-day usage query
// on 10M rows, each beside a baseline in the same run: the unfiltered first page, and the
// same series counted exactly from request_logs instead of the rollup. Run with
// -benchtime=1x: each sub-benchmark makes its own benchQueries measurements.
func BenchmarkQueries(b *testing.B) {
	s := setup(b)
	ctx := context.Background()
	db := warehouse.QuoteIdentifier(s.ch.Database)
	b.Run("seed_10M_rows_server_side", func(b *testing.B) {
		start := time.Now()
		for off := 0; off < benchRows; off += benchChunk {
			require.NoError(b, s.ch.Conn.Exec(ctx, benchSeed.RequestLogsSQL(s.ch.Database, off, benchChunk)))
		}
		seeded := time.Since(start)
		// Measure the steady state, not the background merges that follow a bulk load.
		quiet := 0
		for quiet < 2 && time.Since(start) < 5*time.Minute {
			var merges uint64
			require.NoError(b, s.ch.Conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", s.ch.Database).Scan(&merges))
			if merges == 0 {
				quiet++
			} else {
				quiet = 0
			}
			time.Sleep(500 * time.Millisecond)
		}
		var rows, cells uint64
		require.NoError(b, s.ch.Conn.QueryRow(ctx, "SELECT count() FROM "+db+".request_logs").Scan(&rows))
		require.NoError(b, s.ch.Conn.QueryRow(ctx, "SELECT count() FROM "+db+".request_rollup_1m").Scan(&cells))
		require.Equal(b, uint64(benchRows), rows)
		b.ReportMetric(seeded.Seconds(), "seed_s")
		b.ReportMetric(float64(rows)/seeded.Seconds(), "rows/s")
		b.ReportMetric(float64(cells), "rollup_rows")
		b.ReportMetric((time.Since(start) - seeded).Seconds(), "merge_wait_s")
	})

	page := func(f logquery.Filter) func(string) error {
		return func(partner string) error {
			f.PartnerID = partner
			p, err := s.store.Logs(ctx, f, nil, 50)
			if err == nil && len(p.Rows) == 0 {
				err = fmt.Errorf("empty page for %s", partner)
			}
			return err
		}
	}
	var unfiltered, rawUsage latency.Samples
	b.Run("log_page_first_unfiltered_baseline", func(b *testing.B) {
		unfiltered = timings(b, benchQueries, page(logquery.Filter{}))
		latency.Report(b, unfiltered, nil)
	})
	b.Run("log_page_4xx_route_50", func(b *testing.B) {
		latency.Report(b, timings(b, benchQueries, page(logquery.Filter{StatusClass: 4, Route: "orders.get"})), unfiltered)
	})

	q := logquery.UsageQuery{From: benchStart, To: benchStart.AddDate(0, 0, 30), Interval: logquery.IntervalDay}
	b.Run("usage_30d_day_from_request_logs_baseline", func(b *testing.B) {
		// What the usage series costs without the rollup: exact counts over deduplicated raw rows.
		sql := "SELECT toStartOfDay(ts, 'UTC') AS bucket, environment, uniqExact(request_id), uniqExactIf(request_id, status >= 400)" +
			" FROM " + db + ".request_logs WHERE partner_id = ? AND ts >= ? AND ts < ? GROUP BY bucket, environment ORDER BY bucket, environment"
		rawUsage = timings(b, benchQueries, func(partner string) error {
			r, err := s.ch.Conn.Query(ctx, sql, partner, q.From, q.To)
			if err != nil {
				return err
			}
			defer r.Close()
			for r.Next() {
			}
			return r.Err()
		})
		latency.Report(b, rawUsage, nil)
	})
	b.Run("usage_30d_day_all_figures", func(b *testing.B) {
		latency.Report(b, timings(b, benchQueries, func(partner string) error {
			q.PartnerID = partner
			u, err := s.store.Usage(ctx, q)
			if err == nil && len(u.Series) == 0 {
				err = fmt.Errorf("no usage for %s", partner)
			}
			return err
		}), rawUsage)
	})
	b.Run("usage_by_partner_30d_all_partners", func(b *testing.B) {
		// Reads every partner's cells of 30 days: an admin page, measured 10 times only.
		d := timings(b, 10, func(string) error {
			_, err := s.store.UsageByPartner(ctx, q.From, q.To, 20)
			return err
		})
		latency.Report(b, d, nil)
	})
}
