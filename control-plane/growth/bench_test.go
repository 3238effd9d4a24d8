package growth_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/analytics/ordertotals"
	"github.com/steller/platform/analytics/warehouse"
)

// Benchmark data (issue 12, part 7): 10,000 partners signed up over 90 days (a fifth
// without a referral code, the rest over four codes), each with a hashed prefix of the
// milestones; 10,000,000 request-log rows over the 90 days (1,000 per partner, 80% 2xx);
// 1,000,000 orders (2,000,000 events: created, then completed or failed), half live.
//
// -growth.scale shrinks all three (0.1: a tenth) for a quick run; BENCHMARKS.md records
// full-scale runs only.
const (
	benchDays    = 90
	benchChunk   = 250_000 // rows per INSERT ... SELECT
	benchQueries = 20
)

var benchScale = flag.Float64("growth.scale", 1, "fraction of the benchmark data to generate")

func benchSizes() (partners, requests, orders int) {
	f := *benchScale
	return int(10_000 * f), int(10_000_000 * f), int(1_000_000 * f)
}

var benchStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

func (e *env) seedBench(b *testing.B) {
	b.Helper()
	ctx := context.Background()
	benchPartners, benchRequests, benchOrders := benchSizes()
	// Seeding inserts run longer than the test connection's 30 s read timeout allows.
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{e.chAddr}, ReadTimeout: 10 * time.Minute})
	require.NoError(b, err)
	defer conn.Close()
	step := float64(benchDays*24*3600) / float64(benchPartners)
	_, err = e.Pool.Exec(ctx, `INSERT INTO partners (id, company, signup_referral_code, created_at)
SELECT 'ptr_' || n, 'Bench ' || n, (ARRAY['REF-A', 'REF-B', 'REF-C', 'REF-D', NULL])[1 + n % 5],
       $1::timestamptz + make_interval(secs => n * $2::float8)
FROM generate_series(0, $3::int - 1) n`, benchStart, step, benchPartners)
	require.NoError(b, err)
	_, err = e.Pool.Exec(ctx, `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at)
SELECT p.id, m.name, p.created_at + make_interval(hours => (m.i * (1 + n % 7))::int)
FROM generate_series(0, $2::int - 1) n JOIN partners p ON p.id = 'ptr_' || n
CROSS JOIN unnest($1::text[]) WITH ORDINALITY AS m(name, i)
WHERE m.i <= (n * 7919) % 11`, milestoneOrder, benchPartners)
	require.NoError(b, err)

	db := warehouse.QuoteIdentifier(e.ch.Database)
	span := int64(benchDays * 24 * 3600 * 1000)
	for off := 0; off < benchRequests; off += benchChunk {
		require.NoError(b, conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.request_logs
    (ts, timestamp_ms, request_id, partner_id, environment, status, decision, schema_version, ingested_at)
SELECT toDateTime(intDiv(ms, 1000)), ms, concat('req_', toString(number)), concat('ptr_', toString(number %% %d)),
    'test', toUInt16(if(intHash32(number + 1) %% 10 < 8, 200, 404)), 'allow', toUInt8(1), now()
FROM (SELECT number, toUInt64(%d + intHash64(number) %% %d) AS ms FROM numbers(%d, %d))`,
			db, benchPartners, benchStart.UnixMilli(), span, off, min(benchChunk, benchRequests-off))))
	}
	for _, final := range []bool{false, true} {
		typ := "'order.created'"
		at := "created"
		if final {
			typ = "if(h % 4 = 0, 'order.failed', 'order.completed')"
			at = "created + 3600000"
		}
		require.NoError(b, conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s.order_events
    (ts, occurred_at_ms, event_id, type, order_id, partner_id, workspace_id, environment, product_id,
     amount_cents, currency, failure_reason, order_created_at_ms, request_id, schema_version, ingested_at)
SELECT toDateTime(intDiv(at, 1000)), at, concat('evt_ord_', toString(number), '_', t), t, concat('ord_', toString(number)),
    concat('ptr_', toString(number %% %[2]d)), 'ws', if(h %% 2 = 0, 'live', 'test'), 'steam-50',
    toInt64(100 + h %% 100000), if(h %% 3 = 0, 'EUR', 'USD'), if(t = 'order.failed', 'vendor_timeout', ''), created,
    'req', toUInt8(1), now()
FROM (SELECT number, h, created, %[3]s AS t, toInt64(%[4]s) AS at FROM
      (SELECT number, intHash32(number) AS h, toInt64(%[5]d + intHash64(number + 7) %% %[6]d) AS created FROM numbers(%[7]d)))`,
			db, benchPartners, typ, at, benchStart.UnixMilli(), span-3600000, benchOrders)))
	}
}

// benchSegments are the benchmark's partners as the report sends them to ClickHouse.
func (e *env) benchSegments(b *testing.B) []growthquery.Segment {
	b.Helper()
	rows, err := e.Pool.Query(context.Background(), `SELECT id, COALESCE(signup_referral_code, 'none'), created_at FROM partners`)
	require.NoError(b, err)
	defer rows.Close()
	var out []growthquery.Segment
	for rows.Next() {
		var s growthquery.Segment
		var created time.Time
		require.NoError(b, rows.Scan(&s.PartnerID, &s.Source, &created))
		created = created.UTC()
		day := time.Date(created.Year(), created.Month(), created.Day(), 0, 0, 0, 0, time.UTC)
		s.Cohort, s.InRange = day.AddDate(0, 0, -((int(day.Weekday())+6)%7)), true
		out = append(out, s)
	}
	require.NoError(b, rows.Err())
	return out
}

func percentileMs(sorted []time.Duration, p int) float64 {
	i := (len(sorted)*p+99)/100 - 1
	return float64(sorted[max(i, 0)].Microseconds()) / 1000
}

// BenchmarkGrowthReport measures GET /v1/admin/growth for 90 days by week (every split,
// JSON, through the whole API handler) on the benchmark data, beside a baseline in the
// same run: the one ClickHouse scan any active-partner figure needs at least (distinct
// partners with a 2xx request over the 90 days), with no PostgreSQL and no HTTP.
func BenchmarkGrowthReport(b *testing.B) {
	e := setup(b)
	seedStart := time.Now()
	e.seedBench(b)
	b.Logf("seeded in %s", time.Since(seedStart).Round(time.Millisecond))
	ctx := context.Background()
	// The ingest's closer computes ended days every ten minutes; the seeded days all ended
	// before today. Run it as it would, once the server's clock has passed the inserts'
	// second (a one-nanosecond margin dates a run a second before it starts).
	closer, err := ordertotals.New(ordertotals.Config{Conn: e.ch.Conn, Database: e.ch.Database, Margin: time.Nanosecond})
	require.NoError(b, err)
	seeded := time.Now()
	require.Eventually(b, func() bool {
		var now time.Time
		return e.ch.Conn.QueryRow(ctx, "SELECT now()").Scan(&now) == nil && now.Unix() >= seeded.Unix()+2
	}, 10*time.Second, 50*time.Millisecond)
	closeStart := time.Now()
	closed, err := closer.RunOnce(ctx)
	require.NoError(b, err)
	days := 0
	for _, c := range closed {
		if c.Period == ordertotals.Day {
			days++
		}
	}
	require.Equal(b, benchDays, days, "every seeded day is computed")
	b.Logf("order totals of %d days, weeks and months computed in %s", len(closed), time.Since(closeStart).Round(time.Millisecond))
	from, to := benchStart.Format(time.DateOnly), benchStart.AddDate(0, 0, benchDays).Format(time.DateOnly)
	path := query(map[string]string{"from": from, "to": to, "interval": "week"})
	baselineSQL := "SELECT uniqExact(partner_id) FROM " + warehouse.QuoteIdentifier(e.ch.Database) +
		".request_logs WHERE ts >= ? AND ts < ? AND status >= 200 AND status < 300"
	measure := func(run func()) []time.Duration {
		run() // warm
		out := make([]time.Duration, 0, benchQueries)
		for range benchQueries {
			start := time.Now()
			run()
			out = append(out, time.Since(start))
		}
		slices.Sort(out)
		return out
	}
	var size int
	b.ResetTimer()
	for b.Loop() {
		baseline := measure(func() {
			var n uint64
			require.NoError(b, e.ch.Conn.QueryRow(ctx, baselineSQL, benchStart, benchStart.AddDate(0, 0, benchDays)).Scan(&n))
			require.NotZero(b, n)
		})
		report := measure(func() {
			res := e.get(path, "")
			require.Equal(b, http.StatusOK, res.Code, "%s", res.Body)
			size = res.Body.Len()
		})
		b.ReportMetric(percentileMs(baseline, 50), "baseline_p50_ms")
		b.ReportMetric(percentileMs(baseline, 95), "baseline_p95_ms")
		b.ReportMetric(percentileMs(report, 50), "p50_ms")
		b.ReportMetric(percentileMs(report, 95), "p95_ms")
		b.ReportMetric(percentileMs(report, 95)/percentileMs(baseline, 95), "p95_x_baseline")
		b.ReportMetric(float64(size), "body_bytes")
		// The ClickHouse reads the report makes, alone, for every partner.
		wh, err := growthquery.New(e.ch.Conn, e.ch.Database)
		require.NoError(b, err)
		end := benchStart.AddDate(0, 0, benchDays)
		segments := e.benchSegments(b)
		active := measure(func() {
			_, err := wh.ActivePartners(ctx, segments, growthquery.Week, benchStart, end)
			require.NoError(b, err)
		})
		orders := measure(func() { _, err := wh.Orders(ctx, segments, growthquery.Week, benchStart, end); require.NoError(b, err) })
		b.ReportMetric(percentileMs(active, 50), "ch_active_p50_ms")
		b.ReportMetric(percentileMs(orders, 50), "ch_orders_p50_ms")
	}
}
