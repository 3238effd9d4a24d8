package detector_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/detector"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// env is one test's servers: a migrated database with River's tables, an insert-only
// River client and two topics of its own.
type env struct {
	pool     *pgxpool.Pool
	jobs     *river.Client[pgx.Tx]
	kafka    testenv.Kafka
	requests string
	orders   string
}

func setup(t testing.TB) env {
	t.Helper()
	pool := partnertest.DB(t)
	require.NoError(t, webhook.MigrateQueue(context.Background(), pool))
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	k := testenv.NewKafka(t)
	return env{pool: pool, jobs: jobs, kafka: k, requests: k.Topic(t, "request-logs", 3), orders: k.Topic(t, "order-events", 2)}
}

// config is a detector configuration for e with test-sized batches, in consumer groups
// named after suffix (a new suffix replays the topics from the start).
func (e env) config(pool *pgxpool.Pool, suffix string, reg prometheus.Registerer) detector.Config {
	return detector.Config{
		Brokers: e.kafka.Brokers, RequestLogTopic: e.requests, OrderEventTopic: e.orders,
		RequestGroup: "requests-" + e.requests + suffix, OrderGroup: "orders-" + e.orders + suffix,
		Pool: pool, Jobs: e.jobs, BatchSize: 100, FlushInterval: 50 * time.Millisecond,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WriteTimeout: 5 * time.Second,
		SessionTimeout: 6 * time.Second, Registerer: reg, Logger: quietLogger(),
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("STELLER_TEST_VERBOSE") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// run starts a detector and stops it when the test ends.
func run(t testing.TB, cfg detector.Config) func() {
	t.Helper()
	d, err := detector.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("the detector did not stop within 30 s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// metric sums a series of reg by full name over the label values that match labels.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == k && l.GetValue() == v)
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// milestones returns every stored milestone of the detector's four, by partner.
func milestones(t testing.TB, pool *pgxpool.Pool) map[string][]milestone.Reached {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT partner_id, milestone, reached_at, event_id, source
FROM onboarding_milestones WHERE milestone IN ('first_sandbox_call', 'first_live_call', 'first_sandbox_order', 'first_live_order')
ORDER BY partner_id, milestone`)
	require.NoError(t, err)
	out := map[string][]milestone.Reached{}
	var r milestone.Reached
	var name, source string
	_, err = pgx.ForEachRow(rows, []any{&r.PartnerID, &name, &r.At, &r.EventID, &source}, func() error {
		r.Milestone, r.Source, r.At = milestone.Name(name), milestone.Source(source), r.At.UTC()
		out[r.PartnerID] = append(out[r.PartnerID], r)
		return nil
	})
	require.NoError(t, err)
	return out
}

// jobCount is the number of milestone_reached jobs queued.
func jobCount(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'milestone_reached'`).Scan(&n))
	return n
}

// proxy is a TCP proxy to PostgreSQL that a test can take down (refusing connections and
// cutting open ones) and bring back on the same address.
type proxy struct {
	t      testing.TB
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t testing.TB, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.up()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.down)
	return p
}

// pool returns a pool of base's database that connects through p.
func (p *proxy) pool(base *pgxpool.Pool) *pgxpool.Pool {
	cfg := base.Config().Copy()
	host, port, err := net.SplitHostPort(p.addr)
	require.NoError(p.t, err)
	n, err := strconv.Atoi(port)
	require.NoError(p.t, err)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Fallbacks = host, uint16(n), nil
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(p.t, err)
	p.t.Cleanup(pool.Close)
	return pool
}

func (p *proxy) up() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(p.t, err)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			upstream, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, upstream)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(upstream, c); upstream.Close() }()
			go func() { _, _ = io.Copy(c, upstream); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
