package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/ingest"
	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/internal/testenv"
)

// env is one test's servers: its own ClickHouse database (migrated), source topic and
// dead-letter topic.
type env struct {
	ch         testenv.ClickHouse
	kafka      testenv.Kafka
	topic      string
	deadLetter string
	group      string
	partitions int
}

func setup(t testing.TB, partitions int) env {
	t.Helper()
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(context.Background(), ch.Conn, ch.Database))
	k := testenv.NewKafka(t)
	src := k.Topic(t, "request-logs", partitions)
	return env{
		ch: ch, kafka: k, topic: src, deadLetter: k.Topic(t, "dlq", 1), group: "group-" + src, partitions: partitions,
	}
}

// config is an ingest configuration for e with test-sized batches.
func (e env) config() ingest.Config {
	return ingest.Config{
		Brokers: e.kafka.Brokers, Topic: e.topic, GroupID: e.group, DeadLetterTopic: e.deadLetter,
		Conn: e.ch.Conn, Database: e.ch.Database,
		BatchSize: 1_000, FlushInterval: 100 * time.Millisecond,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		SessionTimeout: 6 * time.Second, StopTimeout: 10 * time.Second,
		Logger: quietLogger(),
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("STELLER_TEST_VERBOSE") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// events builds n valid events with distinct request ids spread over a few partners.
func events(prefix string, n int, now time.Time) []requestlog.Event {
	out := make([]requestlog.Event, n)
	for i := range out {
		status, decision, denial := 200, requestlog.DecisionAllow, ""
		if i%7 == 0 {
			status, decision, denial = 403, requestlog.DecisionDeny, "forbidden_by_policy"
		}
		out[i] = requestlog.Event{
			SchemaVersion: requestlog.SchemaVersion, RequestID: fmt.Sprintf("%s_%07d", prefix, i),
			ClientRequestID: fmt.Sprintf("cli_%d", i%11), // shared by many requests: data, not identity
			TimestampMs:     now.UnixMilli() - int64(i%1000), PartnerID: fmt.Sprintf("ptr_%d", i%5),
			WorkspaceID: "ws_1", KeyID: fmt.Sprintf("key_%d", i%3), Environment: "test",
			Method: "POST", Path: "/v1/orders", Route: "orders.create", Status: status,
			LatencyTotalUs: int64(1000 + i%5000), LatencyUpstreamUs: int64(900 + i%4000), LatencyEdgeUs: 100,
			ClientIP: "2001:db8::1", UserAgent: "steller-test/1", RequestBytes: int64(i % 300),
			ResponseBytes: int64(i % 900), Decision: decision, DenialCode: denial,
			IdempotencyKeyHash: keyHash(i),
		}
	}
	return out
}

func encode(t testing.TB, evs []requestlog.Event) []kafka.Message {
	t.Helper()
	msgs := make([]kafka.Message, len(evs))
	for i, e := range evs {
		v, err := json.Marshal(e)
		require.NoError(t, err)
		msgs[i] = kafka.Message{Key: []byte(e.PartnerID), Value: v}
	}
	return msgs
}

// running is an ingest started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, cfg ingest.Config) running {
	t.Helper()
	in, err := ingest.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the ingest and waits for Run to return.
func (r running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("ingest did not stop within 30 s")
		return nil
	}
}

// stored names a stream's table and the column its events are deduplicated by.
type stored struct{ table, id string }

var (
	requestLogs = stored{"request_logs", "request_id"}
	orderEvents = stored{"order_events", "event_id"}
)

// counts returns raw rows and distinct request ids in request_logs.
func counts(t testing.TB, ch testenv.ClickHouse) (raw, distinct uint64) {
	t.Helper()
	return requestLogs.counts(t, ch)
}

// counts returns the table's raw rows and distinct ids.
func (s stored) counts(t testing.TB, ch testenv.ClickHouse) (raw, distinct uint64) {
	t.Helper()
	require.NoError(t, ch.Conn.QueryRow(context.Background(),
		"SELECT count(), uniqExact("+s.id+") FROM `"+ch.Database+"`."+s.table).Scan(&raw, &distinct))
	return raw, distinct
}

// waitDistinct waits until request_logs holds want distinct request ids.
func waitDistinct(t testing.TB, ch testenv.ClickHouse, want uint64, within time.Duration) {
	t.Helper()
	requestLogs.waitDistinct(t, ch, want, within)
}

// waitDistinct waits until the table holds want distinct ids.
func (s stored) waitDistinct(t testing.TB, ch testenv.ClickHouse, want uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got uint64
	for time.Now().Before(deadline) {
		if _, got = s.counts(t, ch); got >= want {
			require.Equal(t, want, got, "more distinct ids in %s than produced", s.table)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s has %d distinct %s after %s, want %d", s.table, got, s.id, within, want)
}

// committed sums the group's committed offsets over the topic's partitions (-1 per
// partition with no commit counts as 0).
func committed(t testing.TB, e env) int64 {
	t.Helper()
	return testenv.Committed(t, e.kafka.Brokers, e.group, e.topic, e.partitions)
}

// metric reads a counter or gauge from reg by its full name (labels summed).
func metric(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// keyHash gives every third event an Idempotency-Key hash, shared by pairs of events the
// way a retry shares its original's key.
func keyHash(i int) string {
	if i%3 != 0 {
		return ""
	}
	return fmt.Sprintf("%016x", i/2)
}
