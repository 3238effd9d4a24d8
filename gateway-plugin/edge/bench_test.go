package edge_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/policies"
)

// benchDecide decides the same allowed request b.N times and reports the p50 and p99 of
// single decisions besides ns/op (which includes the per-call timing overhead of ~30-60ns).
func benchDecide(b *testing.B, authz edge.Authorizer) {
	fx := edgetest.New(edgetest.FixedNow())
	core := newCore(b, fx, authz)
	req := &edge.Request{
		Method: "GET", Path: "/v1/orders/ord_1", Authorization: "Bearer " + fx.Secret(edgetest.KeyLiveFull),
		ClientAddr: edgetest.HarnessClientIP, RequestID: "req_bench", Received: fx.Now,
	}
	ctx := context.Background()
	// Warm up (fills the decision cache when there is one).
	require.True(b, core.Decide(ctx, req).Allowed)
	samples := make([]time.Duration, 0, min(b.N, 1<<20))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out := core.Decide(ctx, req)
		if len(samples) < cap(samples) {
			samples = append(samples, time.Since(start))
		}
		if !out.Allowed {
			b.Fatalf("denied: %s %s", out.Code, out.Detail)
		}
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

func engine(b *testing.B, cacheSize int) *policies.Engine {
	e, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler), CacheSize: cacheSize})
	require.NoError(b, err)
	return e
}

// BenchmarkDecideCoreOnly measures the core alone, with an authorizer that answers at once.
func BenchmarkDecideCoreOnly(b *testing.B) { benchDecide(b, &allowAll{}) }

// BenchmarkDecideWarm uses the real policy engine with its decision cache warm: the same
// request (route, roles, environment, partner) decided again.
func BenchmarkDecideWarm(b *testing.B) { benchDecide(b, engine(b, 0)) }

// BenchmarkDecideCold uses the real policy engine with its decision cache disabled, so every
// decision evaluates the Rego policy.
func BenchmarkDecideCold(b *testing.B) { benchDecide(b, engine(b, -1)) }

type allowAll struct{}

func (allowAll) DecideEdge(context.Context, policies.EdgeInput) (policies.Decision, error) {
	return policies.Decision{Allow: true}, nil
}
