// Package latency measures call latencies for benchmarks: a sorted sample of timed calls,
// its percentiles, and their report in milliseconds beside a baseline measured in the same
// run, so figures are read as ratios on a shared machine.
package latency

import (
	"slices"
	"testing"
	"time"
)

// Samples are call latencies, sorted ascending.
type Samples []time.Duration

// Measure calls fn(0 … warmup-1) untimed, then fn(0 … n-1) timed one by one, failing the
// benchmark on the first error, and returns the sorted latencies of the timed calls.
func Measure(tb testing.TB, warmup, n int, fn func(i int) error) Samples {
	tb.Helper()
	for i := range warmup {
		if err := fn(i); err != nil {
			tb.Fatalf("latency: warm-up call %d: %v", i, err)
		}
	}
	out := make(Samples, 0, n)
	for i := range n {
		began := time.Now()
		if err := fn(i); err != nil {
			tb.Fatalf("latency: call %d: %v", i, err)
		}
		out = append(out, time.Since(began))
	}
	slices.Sort(out)
	return out
}

// Ms is the p-th percentile (nearest rank, 0 < p <= 100) in milliseconds; 0 for no samples.
func (s Samples) Ms(p int) float64 {
	if len(s) == 0 {
		return 0
	}
	i := (len(s)*p+99)/100 - 1
	return float64(s[max(i, 0)].Microseconds()) / 1000
}

// Report records p50 and p95 in milliseconds and, when baseline is not nil, the p95's
// ratio to the baseline's (p95_x_baseline).
func Report(b *testing.B, s, baseline Samples) {
	b.ReportMetric(s.Ms(50), "p50_ms")
	b.ReportMetric(s.Ms(95), "p95_ms")
	if baseline != nil {
		b.ReportMetric(s.Ms(95)/baseline.Ms(95), "p95_x_baseline")
	}
}
