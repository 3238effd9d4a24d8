package apikey_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// BenchmarkKeyCreate measures creating keys through the service on real PostgreSQL (key
// row, partner and key edge changes, audit entry, NOTIFY, one transaction) by 1, 2 and 8
// partners at once, one goroutine and one connection each. ns/op is wall time per key
// across all of them, so a smaller figure at more partners means they did not wait on one
// another; p50/p99 are one creation's latency; lock-waiters is how many creations wait on
// the feed lock at any moment, on average (pg_stat_activity, sampled every 2 ms).
//
// Each count runs twice. lock=commit is the feed as it is: versions drawn under the feed
// lock only at commit (edgesync.FeedLockKey). lock=first-publish is the baseline, the feed
// before it: a BEFORE INSERT trigger, installed for the run, takes the same lock at the
// transaction's first edge change (the partner's, before the key's) and holds it to the
// commit, as the old PublishPartner did.
func BenchmarkKeyCreate(b *testing.B) {
	ctx := context.Background()
	base := partnertest.DB(b)
	cfg := base.Config().Copy()
	cfg.MaxConns = 16 // every partner's goroutine holds a connection: none waits for the pool
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler), KeyLimit: -1})
	require.NoError(b, err)
	var tenants []partnertest.Tenant
	for range 8 {
		tenants = append(tenants, partnertest.Seed(b, pool, "Bench", false))
	}
	settings := apikey.Settings{Name: "bench", Environment: keyformat.Test, Roles: []string{"catalog:read"}, AllowedCIDRs: []string{"10.0.0.0/8", "2001:db8::/32"}}
	for _, partners := range []int{1, 2, 8} {
		for _, lock := range []string{"first-publish", "commit"} {
			b.Run(fmt.Sprintf("partners=%d/lock=%s", partners, lock), func(b *testing.B) {
				if lock == "first-publish" {
					lockAtFirstPublish(b, pool)
				}
				stop := sampleFeedLockWaiters(b, base)
				lat := createConcurrently(b, partners, func(i int) error {
					_, err := keys.Create(ctx, tenants[i].Owner, settings)
					return err
				})
				b.ReportMetric(stop(), "lock-waiters")
				report(b, lat)
			})
		}
	}
}

// lockAtFirstPublish makes every transaction take the feed lock at its first edge change
// until b ends: the baseline of BenchmarkKeyCreate.
func lockAtFirstPublish(b *testing.B, pool *pgxpool.Pool) {
	ctx := context.Background()
	_, err := pool.Exec(ctx, fmt.Sprintf(`CREATE FUNCTION bench_lock_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_xact_lock(%d); RETURN NEW; END $$;
CREATE TRIGGER bench_lock_feed BEFORE INSERT ON edge_changes FOR EACH ROW EXECUTE FUNCTION bench_lock_feed()`, edgesync.FeedLockKey))
	require.NoError(b, err)
	b.Cleanup(func() {
		_, err := pool.Exec(ctx, `DROP TRIGGER bench_lock_feed ON edge_changes; DROP FUNCTION bench_lock_feed()`)
		require.NoError(b, err)
	})
}

// sampleFeedLockWaiters counts, every 2 ms until the returned function is called, the
// backends of the benchmark's database waiting on an advisory lock (only the feed's is
// taken), and that function returns the mean.
func sampleFeedLockWaiters(b *testing.B, pool *pgxpool.Pool) func() float64 {
	ctx, cancel := context.WithCancel(context.Background())
	var samples, waiting int
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var n int
			err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&n)
			if err != nil {
				if ctx.Err() == nil {
					b.Error(err)
				}
				return
			}
			samples, waiting = samples+1, waiting+n
		}
	}()
	return func() float64 {
		cancel()
		<-done
		if samples == 0 {
			return 0
		}
		return float64(waiting) / float64(samples)
	}
}

// createConcurrently runs b.N calls of create spread over n goroutines (goroutine i passes
// i) and returns every call's latency.
func createConcurrently(b *testing.B, n int, create func(i int) error) []time.Duration {
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, b.N)
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	for i := range n {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := create(i); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	return lat
}

// report adds the median and 99th-percentile latency in milliseconds.
func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		i := max(0, min(int(q*float64(len(lat))+0.5)-1, len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
