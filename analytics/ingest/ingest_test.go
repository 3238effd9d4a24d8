package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/ingest"
	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/internal/testenv"
)

func TestNewReportsEveryMissingDependency(t *testing.T) {
	t.Parallel()
	_, err := ingest.New(ingest.Config{BatchSize: -1, RetryMin: time.Second, RetryMax: time.Millisecond})
	require.Error(t, err)
	for _, want := range []string{"brokers are required", "connection is required", "database is required",
		"BatchSize must not be negative", "RetryMin 1s is above RetryMax 1ms"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestNewRefusesTheSourceTopicAsDeadLetterTopic(t *testing.T) {
	t.Parallel()
	e := setup(t, 1)
	cfg := e.config()
	cfg.DeadLetterTopic = cfg.Topic
	_, err := ingest.New(cfg)
	assert.ErrorContains(t, err, "must differ")
}

func TestNewRefusesASecondIngestOnOneRegistry(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	reg := prometheus.NewRegistry()
	cfg := ingest.Config{Brokers: []string{"127.0.0.1:9092"}, Conn: ch.Conn, Database: ch.Database, Registerer: reg}
	_, err := ingest.New(cfg)
	require.NoError(t, err)
	_, err = ingest.New(cfg)
	assert.ErrorContains(t, err, "already registered")
}

func TestIngestStoresEveryEventOnceWithItsFields(t *testing.T) {
	t.Parallel()
	e := setup(t, 3)
	const n = 5_000
	now := time.Now().UTC()
	evs := events("e2e", n, now)
	testenv.Produce(t, e.kafka.Brokers, e.topic, encode(t, evs))

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Registerer = reg
	r := start(t, cfg)
	waitDistinct(t, e.ch, n, 60*time.Second)
	assert.Eventually(t, func() bool { return committed(t, e) == n }, 10*time.Second, 50*time.Millisecond, "offsets committed after the insert")
	require.NoError(t, r.stop(t))

	raw, distinct := counts(t, e.ch)
	assert.Equal(t, uint64(n), raw, "no batch was written twice")
	assert.Equal(t, uint64(n), distinct)
	assert.Equal(t, float64(n), metric(t, reg, "steller_ingest_rows_inserted_total"))
	assert.GreaterOrEqual(t, metric(t, reg, "steller_ingest_batches_total"), float64(n/1_000))
	assert.Zero(t, metric(t, reg, "steller_ingest_insert_errors_total"))

	want := map[string]requestlog.Event{}
	for _, ev := range evs {
		want[ev.RequestID] = ev
	}
	rows, err := e.ch.Conn.Query(context.Background(), "SELECT ts, timestamp_ms, request_id, client_request_id, partner_id, workspace_id, key_id,"+
		" environment, method, path, route, status, latency_total_us, latency_upstream_us, latency_edge_us, client_ip,"+
		" user_agent, request_bytes, response_bytes, decision, denial_code, idempotency_key_hash, schema_version, ingested_at FROM `"+e.ch.Database+"`.request_logs")
	require.NoError(t, err)
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var (
			ts, ingestedAt                              time.Time
			tsMs, latTotal, latUp, latEdge, reqB, respB uint64
			id, client, partner, ws, key, env, method   string
			path, route                                 string
			ip, ua, decision, denial, keyHash           string
			status                                      uint16
			version                                     uint8
		)
		require.NoError(t, rows.Scan(&ts, &tsMs, &id, &client, &partner, &ws, &key, &env, &method, &path, &route, &status,
			&latTotal, &latUp, &latEdge, &ip, &ua, &reqB, &respB, &decision, &denial, &keyHash, &version, &ingestedAt))
		w, ok := want[id]
		require.True(t, ok, id)
		got := requestlog.Event{
			SchemaVersion: int(version), RequestID: id, ClientRequestID: client, TimestampMs: int64(tsMs), PartnerID: partner, WorkspaceID: ws,
			KeyID: key, Environment: env, Method: method, Path: path, Route: route, Status: int(status),
			LatencyTotalUs: int64(latTotal), LatencyUpstreamUs: int64(latUp), LatencyEdgeUs: int64(latEdge),
			ClientIP: ip, UserAgent: ua, RequestBytes: int64(reqB), ResponseBytes: int64(respB), Decision: decision, DenialCode: denial,
			IdempotencyKeyHash: keyHash,
		}
		require.Equal(t, w, got)
		require.Equal(t, w.TimestampMs/1000, ts.Unix(), "ts is the event's second")
		require.WithinDuration(t, time.Now(), ingestedAt, 2*time.Minute)
		seen++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, n, seen)

	var rollup uint64
	require.NoError(t, e.ch.Conn.QueryRow(context.Background(), "SELECT countMerge(requests) FROM `"+e.ch.Database+"`.request_rollup_1m").Scan(&rollup))
	assert.Equal(t, uint64(n), rollup, "the rollup saw every row once")
}

func TestPoisonMessagesGoToTheDeadLetterTopicAndThePartitionMovesOn(t *testing.T) {
	t.Parallel()
	e := setup(t, 1)
	now := time.Now().UTC()
	good := encode(t, events("good", 3, now))
	msgs := []kafka.Message{
		good[0],
		{Key: []byte("ptr_x"), Value: []byte(`{"schema_version":1,"request_id":`)},
		good[1],
		{Key: []byte("ptr_x"), Value: []byte(`{"schema_version":9,"request_id":"req_v9","timestamp_ms":1}`)},
		{Key: []byte("ptr_x"), Value: []byte(`{"schema_version":1,"timestamp_ms":1,"status":200}`), Headers: []kafka.Header{{Key: "trace", Value: []byte("t1")}}},
		good[2],
	}
	testenv.Produce(t, e.kafka.Brokers, e.topic, msgs)

	reg := prometheus.NewRegistry()
	cfg := e.config()
	cfg.Registerer = reg
	start(t, cfg)
	waitDistinct(t, e.ch, 3, 30*time.Second)
	assert.Eventually(t, func() bool { return committed(t, e) == int64(len(msgs)) }, 10*time.Second, 50*time.Millisecond,
		"the commit moves past the dead letters")
	assert.Equal(t, float64(3), metric(t, reg, "steller_ingest_dead_lettered_total"))

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.kafka.Brokers, Topic: e.deadLetter, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wantReasons := []struct {
		reason string
		offset string
	}{{ingest.ReasonInvalidJSON, "1"}, {ingest.ReasonUnsupportedVersion, "3"}, {ingest.ReasonMissingRequestID, "4"}}
	for i, want := range wantReasons {
		m, err := r.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, msgs[[]int{1, 3, 4}[i]].Value, m.Value, "the original value is kept")
		for key, v := range map[string]string{
			ingest.HeaderReason: want.reason, ingest.HeaderSourceTopic: e.topic,
			ingest.HeaderSourcePartition: "0", ingest.HeaderSourceOffset: want.offset,
		} {
			got, ok := ingest.HeaderValue(m, key)
			assert.True(t, ok, key)
			assert.Equal(t, v, got, key)
		}
		detail, _ := ingest.HeaderValue(m, ingest.HeaderError)
		assert.NotEmpty(t, detail)
		if i == 2 {
			trace, _ := ingest.HeaderValue(m, "trace")
			assert.Equal(t, "t1", trace, "the original headers are kept")
		}
	}
}

func TestGracefulStopFlushesTheBatchBeingFilled(t *testing.T) {
	t.Parallel()
	e := setup(t, 2)
	const n = 500
	testenv.Produce(t, e.kafka.Brokers, e.topic, encode(t, events("stop", n, time.Now().UTC())))
	cfg := e.config()
	cfg.BatchSize = 1_000_000
	cfg.FlushInterval = time.Hour // only the stop can flush
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	r := start(t, cfg)
	// Nothing is stored while the batch fills (wait until every message is in it: joining
	// the group can take seconds on a loaded machine)...
	require.Eventually(t, func() bool {
		return gatheredCounter(t, reg, "steller_ingest_messages_fetched_total") >= n
	}, 60*time.Second, 50*time.Millisecond, "the ingest never fetched the messages")
	_, distinct := counts(t, e.ch)
	require.Zero(t, distinct)
	require.Zero(t, committed(t, e))
	// ...and the stop stores and commits it.
	require.NoError(t, r.stop(t))
	raw, distinct := counts(t, e.ch)
	assert.Equal(t, uint64(n), raw)
	assert.Equal(t, uint64(n), distinct)
	assert.Equal(t, int64(n), committed(t, e))
}

// gatheredCounter reads one counter from a registry.
func gatheredCounter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
