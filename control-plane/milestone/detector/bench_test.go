package detector_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"github.com/steller/platform/control-plane/milestone/detector"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
	"github.com/steller/platform/internal/testenv"
)

// Benchmark data: benchEvents request-log events of benchPartners partners on one
// six-partition topic, most of them 2xx test calls, every tenth a 4xx, every twentieth a
// live call; half the partners have first_sandbox_call already, so each run records
// 5,000 first sandbox calls and 500 first live calls and skips the rest on the in-memory set.
const (
	benchEvents     = 200_000
	benchPartners   = 10_000
	benchPartitions = 6
)

// BenchmarkDetection measures milestone detection with one consumer (one Detector, one
// reader per stream) against a baseline in the same run: one consumer-group reader that
// only fetches and parses the same events. Each iteration reads the whole topic in a new
// consumer group, until every offset is committed (detector) or every message is read
// (baseline), and reports events/s over all iterations (the group join included in both).
//
//	go test -run '^$' -bench BenchmarkDetection -benchtime 3x ./control-plane/milestone/detector/
func BenchmarkDetection(b *testing.B) {
	e := setup(b)
	e.requests = e.kafka.Topic(b, "bench-request-logs", benchPartitions)
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `INSERT INTO partners (id, company) SELECT 'ptr_bench_' || i, 'Bench ' || i FROM generate_series(0, $1 - 1) i`, benchPartners)
	require.NoError(b, err)
	msgs := make([]kafka.Message, benchEvents)
	start := time.Now().UTC().Add(-time.Hour)
	for i := range msgs {
		partner := "ptr_bench_" + strconv.Itoa(i%benchPartners)
		env, status := "test", 200
		switch {
		case i%20 == 0:
			env = "live"
		case i%10 == 0:
			status = 404
		}
		msgs[i] = milestonetest.Message(b, partner, milestonetest.Call(fmt.Sprintf("req_bench_%07d", i), partner, env, status, start.Add(time.Duration(i)*time.Millisecond)))
	}
	testenv.Produce(b, e.kafka.Brokers, e.requests, msgs)
	reset := func() {
		_, err := e.pool.Exec(ctx, `DELETE FROM onboarding_milestones WHERE partner_id LIKE 'ptr_bench_%'`)
		require.NoError(b, err)
		_, err = e.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'milestone_reached'`)
		require.NoError(b, err)
		_, err = e.pool.Exec(ctx, `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at, source)
SELECT 'ptr_bench_' || i, 'first_sandbox_call', now() - interval '2 hours', 'backfill' FROM generate_series(0, $1 - 1, 2) i`, benchPartners)
		require.NoError(b, err)
	}

	b.Run("baseline=fetch+parse", func(b *testing.B) {
		var total time.Duration
		for i := range b.N {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.kafka.Brokers, GroupID: fmt.Sprintf("bench-base-%s-%d-%d", e.requests, b.N, i),
				Topic: e.requests, StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 250 * time.Millisecond,
				QueueCapacity: 10_000, SessionTimeout: 6 * time.Second})
			var p fastjson.Parser
			began := time.Now()
			for n := 0; n < benchEvents; n++ {
				m, err := r.FetchMessage(ctx)
				require.NoError(b, err)
				v, err := p.ParseBytes(m.Value)
				require.NoError(b, err)
				_ = v.GetInt("status")
			}
			total += time.Since(began)
			require.NoError(b, r.Close())
		}
		b.ReportMetric(float64(benchEvents*b.N)/total.Seconds(), "events/s")
	})

	runs := 0
	detect := func(b *testing.B, replay bool) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			if !replay {
				reset()
			}
			runs++ // a group of its own for every run, -count included: it reads from the start
			cfg := e.config(e.pool, fmt.Sprintf("-bench-%d", runs), nil)
			cfg.BatchSize, cfg.FlushInterval = detector.DefaultBatchSize, detector.DefaultFlushInterval
			b.StartTimer()
			began := time.Now()
			stop := run(b, cfg)
			milestonetest.AwaitCommitted(b, e.kafka.Brokers, cfg.RequestGroup, e.requests, benchPartitions, benchEvents, 5*time.Minute)
			total += time.Since(began)
			b.StopTimer()
			stop()
			var n int
			require.NoError(b, e.pool.QueryRow(ctx, `SELECT count(*) FROM onboarding_milestones WHERE partner_id LIKE 'ptr_bench_%' AND source = 'request_log'`).Scan(&n))
			require.Equal(b, benchPartners/2+liveBenchPartners(), n, "milestones recorded")
			b.ReportMetric(float64(n), "milestones")
		}
		b.ReportMetric(float64(benchEvents*b.N)/total.Seconds(), "events/s")
	}
	// 5,500 milestones to record, the rest skipped on the in-memory set.
	b.Run("detector", func(b *testing.B) { detect(b, false) })
	// A replay: every milestone is reached already (loaded at start), nothing is written.
	b.Run("detector-replay", func(b *testing.B) { detect(b, true) })
}

// liveBenchPartners is how many partners get a live call: i%20 == 0 over i < benchEvents.
func liveBenchPartners() int {
	seen := map[int]bool{}
	for i := 0; i < benchEvents; i += 20 {
		seen[i%benchPartners] = true
	}
	return len(seen)
}
