package policies

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkDecideEdge measures one edge decision: warm answers from the decision cache,
// cold evaluates the prepared query every time (cache disabled). Run:
//
//	go test -run '^$' -bench BenchmarkDecideEdge -benchmem ./policies/
func BenchmarkDecideEdge(b *testing.B) {
	ctx := context.Background()
	in := EdgeInput{
		Method:        "POST",
		Path:          "/v1/orders",
		Route:         "orders.create",
		Environment:   "live",
		Roles:         []string{"balance:read", "catalog:read", "orders:read", "orders:write"},
		PartnerID:     "prt_01HZY3M4",
		PartnerStatus: "active",
	}
	for _, bc := range []struct {
		name      string
		cacheSize int
	}{
		{"warm", DefaultCacheSize},
		{"cold", -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := New(Config{Logger: discard(), CacheSize: bc.cacheSize})
			require.NoError(b, err)
			d, err := e.DecideEdge(ctx, in)
			require.NoError(b, err)
			require.True(b, d.Allow)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := e.DecideEdge(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("warm-parallel", func(b *testing.B) {
		e, err := New(Config{Logger: discard()})
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.DecideEdge(ctx, in); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
