package apikey_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// BenchmarkKeyCreate measures creating a key through the service on real PostgreSQL (key
// row, partner and key edge changes, audit entry, NOTIFY, one transaction): serial is the
// baseline, parallel runs GOMAXPROCS callers at once (b.RunParallel) across 8 partners.
// Writers of the edge feed are serialized by its advisory lock, so the ratio shows what
// that costs under load.
func BenchmarkKeyCreate(b *testing.B) {
	ctx := context.Background()
	pool := partnertest.DB(b)
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	var tenants []partnertest.Tenant
	for range 8 {
		tenants = append(tenants, partnertest.Seed(b, pool, "Bench", false))
	}
	settings := apikey.Settings{Name: "bench", Environment: keyformat.Test, Roles: []string{"catalog:read"}, AllowedCIDRs: []string{"10.0.0.0/8", "2001:db8::/32"}}

	report := func(b *testing.B, lat []time.Duration) {
		slices.Sort(lat)
		if len(lat) == 0 {
			return
		}
		at := func(q float64) float64 {
			i := max(0, min(int(q*float64(len(lat))+0.5)-1, len(lat)-1))
			return float64(lat[i]) / float64(time.Millisecond)
		}
		b.ReportMetric(at(0.5), "p50-ms")
		b.ReportMetric(at(0.99), "p99-ms")
	}
	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := range b.N {
			start := time.Now()
			_, err := keys.Create(ctx, tenants[i%len(tenants)].Owner, settings)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})
	b.Run("parallel", func(b *testing.B) {
		var mu sync.Mutex
		lat := make([]time.Duration, 0, b.N)
		var next int
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			tn := tenants[next%len(tenants)]
			next++
			mu.Unlock()
			var mine []time.Duration
			for pb.Next() {
				start := time.Now()
				if _, err := keys.Create(ctx, tn.Owner, settings); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
		report(b, lat)
	})
}
