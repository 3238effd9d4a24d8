package backfill_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/ingest"
	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/backfill"
	"github.com/steller/platform/control-plane/milestone/detector"
	"github.com/steller/platform/control-plane/milestone/milestonetest"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// stored returns every milestone row, by partner and milestone, with its source.
func stored(t *testing.T, pool *pgxpool.Pool) []milestone.Reached {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT partner_id, milestone, reached_at, event_id, source
FROM onboarding_milestones ORDER BY partner_id, milestone`)
	require.NoError(t, err)
	var out []milestone.Reached
	var r milestone.Reached
	var name, source string
	_, err = pgx.ForEachRow(rows, []any{&r.PartnerID, &name, &r.At, &r.EventID, &source}, func() error {
		r.Milestone, r.Source, r.At = milestone.Name(name), milestone.Source(source), r.At.UTC()
		out = append(out, r)
		return nil
	})
	require.NoError(t, err)
	return out
}

// withSource returns rs with every source set to s.
func withSource(rs []milestone.Reached, s milestone.Source) []milestone.Reached {
	out := make([]milestone.Reached, len(rs))
	for i, r := range rs {
		r.Source = s
		out[i] = r
	}
	return out
}

// runUntil runs fn in the background until the test's cleanup stops it.
func runUntil(t *testing.T, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = fn(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// The same history goes through Kafka into the detector (PostgreSQL) and the ingest
// (ClickHouse). The backfill, run on what ClickHouse and PostgreSQL hold after the
// detector's rows are removed, derives exactly the rows the detector and the control
// plane recorded; interrupted after its first chunk and run again, it ends the same.
func TestBackfillEqualsDetectionAndSurvivesAnInterruption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := partnertest.DB(t)
	require.NoError(t, webhook.MigrateQueue(ctx, pool))
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	k := testenv.NewKafka(t)
	requests, orders := k.Topic(t, "request-logs", 3), k.Topic(t, "order-events", 2)

	// Five partners, every second one live; each creates a key of its own (a live key too
	// when live), so the control-plane milestones have their rows.
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: quiet, KeyLimit: -1, Jobs: jobs})
	require.NoError(t, err)
	var partners []string
	for i := range 5 {
		tn := partnertest.Seed(t, pool, fmt.Sprintf("Partner %d", i), i%2 == 0)
		partners = append(partners, tn.PartnerID)
		_, err := keys.Create(ctx, tn.Owner, apikey.Settings{Name: "mine", Environment: keyformat.Test, Roles: []string{"orders:write"}})
		require.NoError(t, err)
		if i%2 == 0 {
			_, err := keys.Create(ctx, tn.Owner, apikey.Settings{Name: "live", Environment: keyformat.Live, Roles: []string{"orders:write"}})
			require.NoError(t, err)
			// The live request that preceded the approval (the partner was seeded approved).
			_, err = pool.Exec(ctx, `INSERT INTO live_requests (id, partner_id, requested_by, legal_name, website, country,
	expected_monthly_volume_cents, use_case, status, reviewed_by, reviewed_at, created_at, updated_at)
VALUES ($1, $2, $3, 'Partner Ltd', 'https://partner.example', 'GB', 100000, 'Gift cards as loyalty rewards.', 'approved',
	'adm_test', now(), now() - interval '1 day', now())`, fmt.Sprintf("lr_%d", i), tn.PartnerID, tn.Owner.ID)
			require.NoError(t, err)
		}
	}
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Millisecond)
	var reqs, ords []kafka.Message
	for i, p := range partners {
		at := func(sec int) time.Time { return t0.Add(time.Duration(100*i+sec) * time.Second) }
		reqs = append(reqs,
			milestonetest.Message(t, p, milestonetest.Call(fmt.Sprintf("req_%d_401", i), p, "test", 401, at(0))),
			milestonetest.Message(t, p, milestonetest.Call(fmt.Sprintf("req_%d_404", i), p, "test", 404, at(1))))
		if i != 4 { // the last partner never gets a 2xx
			reqs = append(reqs,
				milestonetest.Message(t, p, milestonetest.Call(fmt.Sprintf("req_%d_first", i), p, "test", 200, at(2))),
				milestonetest.Message(t, p, milestonetest.Call(fmt.Sprintf("req_%d_again", i), p, "test", 200, at(3))))
			ords = append(ords,
				milestonetest.Message(t, p, milestonetest.Order(fmt.Sprintf("ord_%d_a", i), orderevent.TypeCreated, p, "test", at(4))),
				milestonetest.Message(t, p, milestonetest.Order(fmt.Sprintf("ord_%d_a", i), orderevent.TypeCompleted, p, "test", at(5))))
		}
		ords = append(ords,
			milestonetest.Message(t, p, milestonetest.Order(fmt.Sprintf("ord_%d_b", i), orderevent.TypeCreated, p, "test", at(6))),
			milestonetest.Message(t, p, milestonetest.Order(fmt.Sprintf("ord_%d_b", i), orderevent.TypeFailed, p, "test", at(7))))
		if i%2 == 0 {
			reqs = append(reqs, milestonetest.Message(t, p, milestonetest.Call(fmt.Sprintf("req_%d_live", i), p, "live", 200, at(8))))
			ords = append(ords, milestonetest.Message(t, p, milestonetest.Order(fmt.Sprintf("ord_%d_live", i), orderevent.TypeCompleted, p, "live", at(9))))
		}
	}
	testenv.Produce(t, k.Brokers, requests, reqs)
	testenv.Produce(t, k.Brokers, orders, ords)

	det, err := detector.New(detector.Config{Brokers: k.Brokers, RequestLogTopic: requests, OrderEventTopic: orders,
		RequestGroup: "det-" + requests, OrderGroup: "det-" + orders, Pool: pool, Jobs: jobs,
		BatchSize: 100, FlushInterval: 50 * time.Millisecond, SessionTimeout: 6 * time.Second, Logger: quiet})
	require.NoError(t, err)
	runUntil(t, det.Run)
	for _, stream := range []struct {
		kind         ingest.Stream
		topic, group string
	}{{ingest.RequestLogs, requests, "ing-" + requests}, {ingest.Orders, orders, "ing-" + orders}} {
		in, err := ingest.New(ingest.Config{Stream: stream.kind, Brokers: k.Brokers, Topic: stream.topic, GroupID: stream.group,
			DeadLetterTopic: k.Topic(t, "dlq", 1), Conn: ch.Conn, Database: ch.Database, BatchSize: 100,
			FlushInterval: 50 * time.Millisecond, SessionTimeout: 6 * time.Second, Logger: quiet})
		require.NoError(t, err)
		runUntil(t, in.Run)
	}
	milestonetest.AwaitCommitted(t, k.Brokers, "det-"+requests, requests, 3, int64(len(reqs)), time.Minute)
	milestonetest.AwaitCommitted(t, k.Brokers, "det-"+orders, orders, 2, int64(len(ords)), time.Minute)
	milestonetest.AwaitCommitted(t, k.Brokers, "ing-"+requests, requests, 3, int64(len(reqs)), time.Minute)
	milestonetest.AwaitCommitted(t, k.Brokers, "ing-"+orders, orders, 2, int64(len(ords)), time.Minute)

	// signed_up is the partners' creation, as the backfill derives it (partnertest seeds
	// rows, not signups); the other rows are the detector's and the key service's.
	_, err = pool.Exec(ctx, `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at, event_id, source)
SELECT id, 'signed_up', created_at, id, 'control_plane' FROM partners UNION ALL
SELECT id, 'live_approved', live_approved_at, id, 'control_plane' FROM partners WHERE live_approved_at IS NOT NULL UNION ALL
SELECT partner_id, 'live_requested', created_at, id, 'control_plane' FROM live_requests`)
	require.NoError(t, err)
	detected := stored(t, pool)
	counts := map[milestone.Name]int{}
	for _, r := range detected {
		counts[r.Milestone]++
	}
	require.Equal(t, map[milestone.Name]int{milestone.SignedUp: 5, milestone.LiveRequested: 3, milestone.LiveApproved: 3, milestone.FirstKey: 5,
		milestone.FirstLiveKey: 3, milestone.FirstSandboxCall: 4, milestone.FirstSandboxOrder: 4,
		milestone.FirstLiveCall: 3, milestone.FirstLiveOrder: 3}, counts, "the history reaches what it should")

	forget := func() {
		_, err := pool.Exec(ctx, `DELETE FROM onboarding_milestones`)
		require.NoError(t, err)
	}
	forget()
	cfg := backfill.Config{Pool: pool, ClickHouse: ch.Conn, Database: ch.Database, Jobs: jobs, ChunkSize: 2, Logger: quiet}

	// Interrupted (as Ctrl-C would) once the first chunk is done.
	runCtx, interrupt := context.WithCancel(ctx)
	var progress bytes.Buffer
	cfg.Progress = writerFunc(func(p []byte) (int, error) { interrupt(); return progress.Write(p) })
	res, err := backfill.Run(runCtx, cfg)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 2, res.Partners)
	assert.Equal(t, 5, res.Total)
	assert.Equal(t, "backfill milestones: 2/5 partners done, "+fmt.Sprint(len(stored(t, pool)))+" milestones recorded\n", progress.String())
	partial := stored(t, pool)
	require.NotEmpty(t, partial)
	require.Less(t, len(partial), len(detected))

	progress.Reset()
	cfg.Progress = &progress
	res, err = backfill.Run(ctx, cfg)
	require.NoError(t, err)
	assert.Equal(t, 5, res.Partners)
	assert.Equal(t, len(detected)-len(partial), sum(res.Recorded), "the rerun records only what is missing")
	assert.Equal(t, withSource(detected, milestone.FromBackfill), stored(t, pool), "backfill equals detection")
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	assert.Equal(t, []string{"2/5", "4/5", "5/5"}, fractions(lines))

	// A third run changes nothing.
	res, err = backfill.Run(ctx, backfill.Config{Pool: pool, ClickHouse: ch.Conn, Database: ch.Database, Jobs: jobs, Logger: quiet})
	require.NoError(t, err)
	assert.Zero(t, sum(res.Recorded))
	assert.Equal(t, withSource(detected, milestone.FromBackfill), stored(t, pool))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func sum(m map[milestone.Name]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// fractions picks the "done/total" word of each progress line.
func fractions(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 2 {
			out[i] = f[2]
		}
	}
	return out
}
