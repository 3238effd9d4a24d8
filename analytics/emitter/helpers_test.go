package emitter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/steller/platform/analytics/emitter"
	"github.com/steller/platform/analytics/requestlog"
)

const testPartitions = 4

// newEmitter builds an emitter with test-friendly timings; tweak adjusts the config. The
// emitter is closed when the test ends if the test did not close it.
func newEmitter(t testing.TB, brokers []string, topicName, spoolDir string, tweak func(*emitter.Config)) *emitter.Emitter {
	t.Helper()
	cfg := emitter.Config{
		Brokers:      brokers,
		Topic:        topicName,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		SpoolDir:     spoolDir,
		BatchTimeout: 5 * time.Millisecond,
		WriteTimeout: 3 * time.Second,
		BackoffMin:   50 * time.Millisecond,
		BackoffMax:   300 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := emitter.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// syncBuffer collects log output for assertions.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// event builds the seq-th test event; partners share out the sequence round-robin.
func event(seq, partners int) requestlog.Event {
	return requestlog.Event{
		SchemaVersion: requestlog.SchemaVersion,
		RequestID:     fmt.Sprintf("req_%08d", seq),
		TimestampMs:   time.Now().UnixMilli(),
		PartnerID:     fmt.Sprintf("ptr_%d", seq%partners),
		WorkspaceID:   "ws_1", KeyID: "key_1", Environment: "test",
		Method: "POST", Path: "/v1/orders", Route: "orders.create", Status: 201,
		LatencyTotalUs: 1500, LatencyUpstreamUs: 1400, LatencyEdgeUs: 100,
		ClientIP: "127.0.0.1", UserAgent: "emitter-test", RequestBytes: 42, ResponseBytes: 99,
		Decision: requestlog.DecisionAllow,
	}
}

func seqOf(t testing.TB, requestID string) int {
	t.Helper()
	n, err := strconv.Atoi(requestID[len("req_"):])
	require.NoError(t, err, requestID)
	return n
}

// startKfake starts an in-process broker on port (0 picks one) with the topic seeded.
func startKfake(t testing.TB, port int, dataDir, topicName string, opts ...kfake.Opt) (*kfake.Cluster, int) {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(testPartitions, topicName)}, opts...)
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	_, p, err := net.SplitHostPort(c.ListenAddrs()[0])
	require.NoError(t, err)
	got, err := strconv.Atoi(p)
	require.NoError(t, err)
	return c, got
}

// freePort returns a port nothing listens on, for a broker that is down at first.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// consumeAll reads every partition of the topic from the start until want distinct
// messages arrived or the timeout passed, and returns them (duplicates included) partition
// by partition in offset order.
func consumeAll(t testing.TB, brokers []string, topicName string, want int, timeout time.Duration) [][]kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([][]kafka.Message, testPartitions)
	var mu sync.Mutex
	distinct := map[string]bool{}
	var wg sync.WaitGroup
	for p := range testPartitions {
		wg.Go(func() {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: brokers, Topic: topicName, Partition: p,
				MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset,
			})
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				out[p] = append(out[p], m)
				distinct[string(m.Value)] = true
				if len(distinct) >= want {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// checkDelivered asserts that the consumed messages hold exactly the events with the given
// sequence numbers, each keyed by its partner, with every partner's events in emission
// order. It returns how many duplicates it saw.
func checkDelivered(t testing.TB, parts [][]kafka.Message, want []int) int {
	t.Helper()
	wantSet := make(map[int]bool, len(want))
	for _, s := range want {
		wantSet[s] = true
	}
	seen := make(map[int]bool, len(want))
	lastByPartner := map[string]int{}
	dups := 0
	for _, msgs := range parts {
		for _, m := range msgs {
			var ev requestlog.Event
			require.NoError(t, json.Unmarshal(m.Value, &ev))
			assert.Equal(t, ev.PartnerID, string(m.Key), "message key is the partner id")
			s := seqOf(t, ev.RequestID)
			if seen[s] {
				dups++
				continue
			}
			seen[s] = true
			assert.True(t, wantSet[s], "unexpected event %d", s)
			if last, ok := lastByPartner[ev.PartnerID]; ok {
				assert.Greater(t, s, last, "partner %s out of order", ev.PartnerID)
			}
			lastByPartner[ev.PartnerID] = s
		}
	}
	missing := 0
	for _, s := range want {
		if !seen[s] {
			missing++
		}
	}
	assert.Zero(t, missing, "events missing of %d", len(want))
	assert.Len(t, seen, len(want), "distinct request ids")
	return dups
}

func seqs(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func slogTo(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

func countLines(s, substr string) int {
	n := 0
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}
