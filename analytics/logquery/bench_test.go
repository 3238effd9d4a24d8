package logquery_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/warehouse"
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

// benchSeedSQL generates rows numbers [offset, offset+count) on the server. Partner
// n%1000 gets one row per 259.2 s step (n/1000), at a hashed offset within the step.
func benchSeedSQL(database string, offset, count int) string {
	return fmt.Sprintf(`INSERT INTO %s.request_logs (ts, timestamp_ms, request_id, partner_id, workspace_id, key_id,
    environment, method, path, route, status, latency_total_us, latency_upstream_us, latency_edge_us, client_ip,
    user_agent, request_bytes, response_bytes, decision, denial_code, schema_version, ingested_at)
SELECT toDateTime(intDiv(ms, 1000)), ms, concat('req_', lower(hex(sipHash128(toString(number))))),
    concat('ptr_', toString(number %% %[4]d)), concat('ws_', toString(number %% %[4]d)),
    concat('key_', toString(number %% %[4]d), '_', toString(number %% 3)),
    if(h %% 4 = 0, 'live', 'test'), if(ri = 2, 'POST', 'GET'),
    arrayElement(['/v1/catalog', '/v1/orders', '/v1/orders/ord_1', '/v1/balance', '/v1/catalog/prd_1', '/v1/orders', '/v2/nope', '/v1/webhooks/test'], ri),
    arrayElement(['catalog.list', 'orders.create', 'orders.get', 'balance.get', 'catalog.get', 'orders.list', 'unknown', 'webhooks.test'], ri),
    toUInt16(multiIf(r < 3, 404, r < 5, 401, r < 7, 500, 200)),
    toUInt64(1000 + h %% 200000), toUInt64(800 + h %% 160000), toUInt64(200), '203.0.113.7', 'bench',
    toUInt64(100), toUInt64(1000 + h %% 5000), if(r >= 3 AND r < 5, 'deny', 'allow'),
    if(r >= 3 AND r < 5, 'invalid_key', ''), toUInt8(1), now()
FROM (
    SELECT number, intHash32(number) AS h, intHash32(number + 1) %% 100 AS r,
        toUInt8(intHash32(number + 2) %% 8 + 1) AS ri,
        toUInt64(%[5]d + intDiv(number, %[4]d) * 259200 + intHash32(number + 3) %% 259200) AS ms
    FROM numbers(%[2]d, %[3]d)
)`, warehouse.QuoteIdentifier(database), offset, count, benchPartners, benchStart.UnixMilli())
}

// timings runs query n times, each for the next partner, and returns the sorted
// latencies.
func timings(b *testing.B, n int, query func(partner string) error) []time.Duration {
	b.Helper()
	out := make([]time.Duration, 0, n)
	for i := range n {
		partner := fmt.Sprintf("ptr_%d", (i*37)%benchPartners)
		start := time.Now()
		require.NoError(b, query(partner))
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out
}

func pct(sorted []time.Duration, p int) float64 {
	i := (len(sorted)*p+99)/100 - 1
	return float64(sorted[max(i, 0)].Microseconds()) / 1000
}

// report records p50 and p95 in milliseconds, and the p95 ratio to a baseline if any.
func report(b *testing.B, d []time.Duration, baseline []time.Duration) {
	b.ReportMetric(pct(d, 50), "p50_ms")
	b.ReportMetric(pct(d, 95), "p95_ms")
	if baseline != nil {
		b.ReportMetric(pct(d, 95)/pct(baseline, 95), "p95_x_baseline")
	}
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
			require.NoError(b, s.ch.Conn.Exec(ctx, benchSeedSQL(s.ch.Database, off, benchChunk)))
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
	var unfiltered, rawUsage []time.Duration
	b.Run("log_page_first_unfiltered_baseline", func(b *testing.B) {
		unfiltered = timings(b, benchQueries, page(logquery.Filter{}))
		report(b, unfiltered, nil)
	})
	b.Run("log_page_4xx_route_50", func(b *testing.B) {
		report(b, timings(b, benchQueries, page(logquery.Filter{StatusClass: 4, Route: "orders.get"})), unfiltered)
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
		report(b, rawUsage, nil)
	})
	b.Run("usage_30d_day_all_figures", func(b *testing.B) {
		report(b, timings(b, benchQueries, func(partner string) error {
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
		report(b, d, nil)
	})
}
