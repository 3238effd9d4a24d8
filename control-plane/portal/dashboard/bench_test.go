package dashboard_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/steller/platform/internal/latency"
)

// BenchmarkPages measures the signed-in pages (issue 13: page handlers answer p95 under
// 50 ms with warm caches, except where ClickHouse answers) over HTTP on loopback with a
// signed-in owner's cookie, beside a baseline in the same run: a docs guide, rendered once
// at start, through the same server and middleware, so the ratio is what each page's own
// work costs. /app/logs is reported too; ClickHouse answers it.
func BenchmarkPages(b *testing.B) {
	e := setup(b)
	v := e.visitor(b)
	email := v.signup("Bench Pages Co")
	e.addEndpoint(b, email)
	const warmup, n = 20, 200
	get := func(path string) func(int) error {
		return func(int) error {
			res := v.get(path)
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %d %.300s", path, res.StatusCode, res.Body)
			}
			return nil
		}
	}
	pages := []string{"/app", "/app/console", "/app/keys", "/app/webhooks", "/app/logs"}
	for b.Loop() {
		baseline := latency.Measure(b, warmup, n, get("/docs/quickstart"))
		b.ReportMetric(baseline.Ms(50), "baseline_p50_ms")
		b.ReportMetric(baseline.Ms(95), "baseline_p95_ms")
		for _, p := range pages {
			s := latency.Measure(b, warmup, n, get(p))
			b.ReportMetric(s.Ms(50), p+"_p50_ms")
			b.ReportMetric(s.Ms(95), p+"_p95_ms")
			b.ReportMetric(s.Ms(95)/baseline.Ms(95), p+"_p95_x_baseline")
		}
	}
}
