package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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

// benchRows is the size of one throughput run.
const benchRows = 1_000_000

// insertEvents stores evs with column-named batches of batchSize, the way the ingest does
// but without Kafka: the baseline for the ingest's throughput.
func insertEvents(b *testing.B, ch testenv.ClickHouse, evs []requestlog.Event, batchSize int) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < len(evs); start += batchSize {
		cb, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO `"+ch.Database+"`.request_logs (ts, timestamp_ms, request_id, partner_id,"+
			" workspace_id, key_id, environment, method, path, route, status, latency_total_us, latency_upstream_us, latency_edge_us,"+
			" client_ip, user_agent, request_bytes, response_bytes, decision, denial_code, schema_version, ingested_at)")
		require.NoError(b, err)
		chunk := evs[start:min(start+batchSize, len(evs))]
		cols := make([][]string, 12)
		var ts, ingested []time.Time
		var ms, latT, latU, latE, reqB, respB []uint64
		var status []uint16
		var version []uint8
		now := time.Now().UTC().Truncate(time.Second)
		for _, e := range chunk {
			for i, s := range []string{e.RequestID, e.PartnerID, e.WorkspaceID, e.KeyID, e.Environment, e.Method, e.Path, e.Route,
				e.ClientIP, e.UserAgent, e.Decision, e.DenialCode} {
				cols[i] = append(cols[i], s)
			}
			ts = append(ts, time.UnixMilli(e.TimestampMs).Truncate(time.Second))
			ingested = append(ingested, now)
			ms, latT, latU = append(ms, uint64(e.TimestampMs)), append(latT, uint64(e.LatencyTotalUs)), append(latU, uint64(e.LatencyUpstreamUs))
			latE, reqB, respB = append(latE, uint64(e.LatencyEdgeUs)), append(reqB, uint64(e.RequestBytes)), append(respB, uint64(e.ResponseBytes))
			status, version = append(status, uint16(e.Status)), append(version, uint8(e.SchemaVersion))
		}
		for i, col := range []any{ts, ms, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], status, latT, latU, latE,
			cols[8], cols[9], reqB, respB, cols[10], cols[11], version, ingested} {
			require.NoError(b, cb.Column(i).Append(col))
		}
		require.NoError(b, cb.Send())
	}
}

func BenchmarkIngestThroughput(b *testing.B) {
	// The parent runs once; its sub-benchmarks share one pre-produced topic.
	k := testenv.NewKafka(b)
	source := k.Topic(b, "bench-throughput", 6)
	evs := events("bench", benchRows, time.Now().UTC())
	// The ingest's decoding cost alone is BenchmarkDecode (batch_test.go).
	msgs := encode(b, evs)
	started := time.Now()
	testenv.Produce(b, k.Brokers, source, msgs)
	b.Logf("pre-produced %d events (%d MiB of JSON) in %s", benchRows, jsonBytes(msgs)>>20, time.Since(started).Round(time.Millisecond))

	b.Run("baseline=clickhouse_insert", func(b *testing.B) {
		var rows int
		var elapsed time.Duration
		for b.Loop() {
			b.StopTimer()
			ch := testenv.NewClickHouse(b)
			require.NoError(b, schema.Migrate(context.Background(), ch.Conn, ch.Database))
			b.StartTimer()
			started := time.Now()
			insertEvents(b, ch, evs, 50_000)
			elapsed += time.Since(started)
			rows += len(evs)
		}
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	})

	for _, batchSize := range []int{50_000, 100_000, 200_000} {
		b.Run(fmt.Sprintf("kafka_to_clickhouse/batch=%d", batchSize), func(b *testing.B) {
			var rows int
			var storing float64
			var elapsed, startup time.Duration
			for b.Loop() {
				b.StopTimer()
				ch := testenv.NewClickHouse(b)
				require.NoError(b, schema.Migrate(context.Background(), ch.Conn, ch.Database))
				e := env{ch: ch, kafka: k, topic: source, deadLetter: k.Topic(b, "bench-dlq", 1),
					group: fmt.Sprintf("bench-%d", time.Now().UnixNano()), partitions: 6}
				cfg := e.config()
				cfg.BatchSize, cfg.FlushInterval = batchSize, time.Second
				reg := prometheus.NewRegistry()
				cfg.Registerer = reg
				b.StartTimer()
				started := time.Now()
				r := start(b, cfg)
				waitRows(b, ch, 1, time.Minute)
				startup += time.Since(started) // group join and the first batch
				waitRows(b, ch, uint64(len(evs)), 5*time.Minute)
				elapsed += time.Since(started)
				rows += len(evs)
				b.StopTimer()
				require.NoError(b, r.stop(b))
				storing += histogramSum(b, reg, "steller_ingest_batch_duration_seconds")
				b.StartTimer()
			}
			b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(startup.Seconds()/float64(b.N), "s-to-first-row")
			// Time batches spent between hand-over and commit (decode, insert, waiting for
			// the batch before to commit), summed over concurrent batches, per second of the
			// run, in percent: about 100 or less means the fetch loop is the bottleneck,
			// InsertConcurrency×100 and more means decoding and ClickHouse are.
			b.ReportMetric(100*storing/elapsed.Seconds(), "storing-%")
		})
	}
}

func jsonBytes(msgs []kafka.Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Value)
	}
	return n
}

// waitRows polls request_logs until it holds want rows.
func waitRows(b *testing.B, ch testenv.ClickHouse, want uint64, within time.Duration) {
	b.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var n uint64
		require.NoError(b, ch.Conn.QueryRow(context.Background(), "SELECT count() FROM `"+ch.Database+"`.request_logs").Scan(&n))
		if n >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("request_logs did not reach %d rows within %s", want, within)
}

// keyPartition sends a message to the partition named by its key ("3" → 3), so the
// freshness benchmark knows each event's partition and position in it.
type keyPartition struct{}

func (keyPartition) Balance(msg kafka.Message, partitions ...int) int {
	p, _ := strconv.Atoi(string(msg.Key))
	return partitions[p%len(partitions)]
}

// BenchmarkFreshness emits at 10,000 events/s for 10 s through an asynchronous writer
// configured like the edge emitter (10 ms / 1,000-event batches, lz4), runs the ingest
// with the default batch size and the flush interval under test, and measures for each event the time from emit to the
// first poll of ClickHouse that sees it (polls every 20 ms, so figures are up to 20 ms
// late). Within a partition rows become visible in order, so a per-partition count says
// which events are visible.
func BenchmarkFreshness(b *testing.B) {
	for _, flush := range []time.Duration{ingest.DefaultFlushInterval, 250 * time.Millisecond} {
		b.Run("flush="+flush.String(), func(b *testing.B) { benchmarkFreshness(b, flush) })
	}
}

func benchmarkFreshness(b *testing.B, flush time.Duration) {
	const (
		partitions = 6
		rate       = 10_000
		duration   = 10 * time.Second
		tick       = 10 * time.Millisecond
	)
	for b.Loop() {
		b.StopTimer()
		e := setup(b, partitions)
		cfg := e.config()
		cfg.BatchSize, cfg.FlushInterval = 0, flush // default batch size
		r := start(b, cfg)
		w := &kafka.Writer{
			Addr: kafka.TCP(e.kafka.Brokers...), Topic: e.topic, Balancer: keyPartition{}, RequiredAcks: kafka.RequireAll,
			Async: true, BatchSize: 1_000, BatchTimeout: 10 * time.Millisecond, Compression: kafka.Lz4, Transport: &kafka.Transport{},
		}
		emitted := make([][]time.Time, partitions)
		visible := make([][]time.Time, partitions)
		polled := make(chan struct{})
		stopPoll := make(chan struct{})
		go func() {
			defer close(polled)
			for {
				select {
				case <-stopPoll:
					return
				case <-time.After(20 * time.Millisecond):
				}
				rows, err := e.ch.Conn.Query(context.Background(), "SELECT workspace_id, count() FROM `"+e.ch.Database+"`.request_logs GROUP BY workspace_id")
				if err != nil {
					continue
				}
				now := time.Now()
				for rows.Next() {
					var ws string
					var n uint64
					if rows.Scan(&ws, &n) != nil {
						continue
					}
					p, _ := strconv.Atoi(ws)
					for uint64(len(visible[p])) < n {
						visible[p] = append(visible[p], now)
					}
				}
				rows.Close()
			}
		}()
		b.StartTimer()

		seq := 0
		ticker := time.NewTicker(tick)
		for range int(duration / tick) {
			<-ticker.C
			batch := make([]kafka.Message, 0, rate/int(time.Second/tick))
			now := time.Now()
			for range cap(batch) {
				p := seq % partitions
				ev := requestlog.Event{
					SchemaVersion: 1, RequestID: "fresh_" + strconv.Itoa(seq), TimestampMs: now.UnixMilli(), PartnerID: "ptr_1",
					WorkspaceID: strconv.Itoa(p), KeyID: "key_1", Environment: "test", Method: "GET", Path: "/v1/catalog",
					Route: "catalog.list", Status: 200, LatencyTotalUs: 1200, LatencyUpstreamUs: 1000, LatencyEdgeUs: 200,
					ClientIP: "10.0.0.1", UserAgent: "bench", Decision: requestlog.DecisionAllow,
				}
				v, _ := json.Marshal(ev)
				batch = append(batch, kafka.Message{Key: []byte(strconv.Itoa(p)), Value: v})
				emitted[p] = append(emitted[p], now)
				seq++
			}
			require.NoError(b, w.WriteMessages(context.Background(), batch...))
		}
		ticker.Stop()
		waitRows(b, e.ch, uint64(seq), time.Minute)
		time.Sleep(50 * time.Millisecond)
		b.StopTimer()
		close(stopPoll)
		<-polled
		require.NoError(b, w.Close())
		require.NoError(b, r.stop(b))

		var lags []time.Duration
		for p := range partitions {
			require.GreaterOrEqual(b, len(visible[p]), len(emitted[p]), "partition %d", p)
			for i, at := range emitted[p] {
				lags = append(lags, visible[p][i].Sub(at))
			}
		}
		slices.Sort(lags)
		q := func(f float64) float64 { return float64(lags[int(f*float64(len(lags)-1))].Milliseconds()) }
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.95), "p95-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(1), "max-ms")
		b.ReportMetric(float64(seq)/duration.Seconds(), "events/s")
		b.StartTimer()
	}
}

func histogramSum(b *testing.B, reg *prometheus.Registry, name string) float64 {
	b.Helper()
	families, err := reg.Gather()
	require.NoError(b, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	return 0
}
