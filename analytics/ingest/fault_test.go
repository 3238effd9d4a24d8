package ingest_test

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/ingest"
	"github.com/steller/platform/analytics/orderquery/ordertest"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/testenv"
)

// proxy forwards TCP connections to a server and can cut them, standing in for a
// ClickHouse outage that the shared test server cannot have.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(client net.Conn) {
	p.mu.Lock()
	cut := p.cut
	p.mu.Unlock()
	if cut {
		client.Close()
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.cut { // cut while dialing
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(server, client); server.Close(); client.Close() }()
	_, _ = io.Copy(client, server)
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// Cut closes every forwarded connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore forwards new connections again.
func (p *proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// While ClickHouse is unreachable the ingest of each stream retries with backoff, stores
// and commits nothing, and once it is back it stores every event once and commits.
func TestIngestWaitsWhileClickHouseIsUnreachableAndCatchesUp(t *testing.T) {
	t.Parallel()
	requests := func(t *testing.T, prefix string, n int, now time.Time) []kafka.Message {
		return encode(t, events(prefix, n, now))
	}
	orders := func(t *testing.T, prefix string, n int, now time.Time) []kafka.Message {
		var msgs []kafka.Message
		for _, ev := range ordertest.Events(prefix, n/2, now.Add(-48*time.Hour), time.Second) { // two events per order
			v, err := json.Marshal(ev)
			require.NoError(t, err)
			msgs = append(msgs, kafka.Message{Key: []byte(ev.PartnerID), Value: v})
		}
		return msgs
	}
	for _, c := range []struct {
		stream   ingest.Stream
		stored   stored
		messages func(t *testing.T, prefix string, n int, now time.Time) []kafka.Message
	}{
		{ingest.RequestLogs, requestLogs, requests},
		{ingest.Orders, orderEvents, orders},
	} {
		t.Run(string(c.stream), func(t *testing.T) {
			t.Parallel()
			e := setup(t, 2)
			e.topic = e.kafka.Topic(t, string(c.stream), 2)
			e.group = "group-" + e.topic
			px := newProxy(t, e.ch.Addr)
			ctx := context.Background()
			conn, err := warehouse.Open(ctx, warehouse.Config{Addr: px.Addr(), User: "default"})
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })

			reg := prometheus.NewRegistry()
			cfg := e.config()
			cfg.Stream, cfg.Topic, cfg.GroupID = c.stream, e.topic, e.group
			cfg.Conn, cfg.Registerer = conn, reg
			start(t, cfg)

			const before, during = 2_000, 3_000
			now := time.Now().UTC()
			testenv.Produce(t, e.kafka.Brokers, e.topic, c.messages(t, "before", before, now))
			c.stored.waitDistinct(t, e.ch, before, 30*time.Second)
			require.Eventually(t, func() bool { return committed(t, e) == before }, 10*time.Second, 50*time.Millisecond)

			px.Cut()
			testenv.Produce(t, e.kafka.Brokers, e.topic, c.messages(t, "during", during, now))
			require.Eventually(t, func() bool { return metric(t, reg, "steller_ingest_insert_retries_total") >= 3 }, 30*time.Second, 50*time.Millisecond,
				"the ingest retries while ClickHouse is unreachable")
			// A longer outage: three more retries, with the backoff at its cap.
			retried := metric(t, reg, "steller_ingest_insert_retries_total")
			require.Eventually(t, func() bool { return metric(t, reg, "steller_ingest_insert_retries_total") >= retried+3 }, 30*time.Second,
				50*time.Millisecond, "the ingest keeps retrying")
			_, distinct := c.stored.counts(t, e.ch)
			assert.Equal(t, uint64(before), distinct, "nothing stored during the outage")
			assert.Equal(t, int64(before), committed(t, e), "nothing committed during the outage")
			assert.Positive(t, metric(t, reg, "steller_ingest_insert_errors_total"))

			px.Restore()
			c.stored.waitDistinct(t, e.ch, before+during, 60*time.Second)
			assert.Eventually(t, func() bool { return committed(t, e) == before+during }, 10*time.Second, 50*time.Millisecond)
			var final uint64
			require.NoError(t, e.ch.Conn.QueryRow(ctx, "SELECT count() FROM `"+e.ch.Database+"`."+c.stored.table+" FINAL").Scan(&final))
			assert.Equal(t, uint64(before+during), final)
			raw, _ := c.stored.counts(t, e.ch)
			t.Logf("after the outage: %d raw rows for %d events, %.0f failed insert attempts", raw, before+during,
				metric(t, reg, "steller_ingest_insert_errors_total"))
		})
	}
}

// childEnv carries the child's configuration (JSON) when the test binary runs as the
// ingest process of TestIngestSurvivesSIGKILL.
const childEnv = "STELLER_INGEST_CHILD_CONFIG"

type childConfig struct {
	Brokers                       []string
	Topic, Group, DeadLetter      string
	ClickHouseAddr, Database      string
	BatchSize                     int
	FlushInterval, SessionTimeout time.Duration
}

// TestIngestChildProcess is not a test on its own: TestIngestSurvivesSIGKILL re-executes
// the test binary with childEnv set to run it as an ingest process, which it then kills.
func TestIngestChildProcess(t *testing.T) {
	t.Parallel()
	var c childConfig
	if !testenv.ChildConfig(t, childEnv, &c) {
		t.Skip("runs only as the child process of TestIngestSurvivesSIGKILL")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	conn, err := warehouse.Open(ctx, warehouse.Config{Addr: c.ClickHouseAddr, User: "default"})
	require.NoError(t, err)
	defer conn.Close()
	in, err := ingest.New(ingest.Config{
		Brokers: c.Brokers, Topic: c.Topic, GroupID: c.Group, DeadLetterTopic: c.DeadLetter,
		Conn: conn, Database: c.Database, BatchSize: c.BatchSize, FlushInterval: c.FlushInterval,
		SessionTimeout: c.SessionTimeout, Logger: quietLogger(),
	})
	require.NoError(t, err)
	require.NoError(t, in.Run(ctx))
}

func TestIngestSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	e := setup(t, 3)
	ctx := context.Background()
	db := "`" + e.ch.Database + "`"
	// Without merges the redelivered copies stay visible in the raw count, so the test
	// can report them and prove the query-time dedup hides them.
	require.NoError(t, e.ch.Conn.Exec(ctx, "SYSTEM STOP MERGES "+db+".request_logs"))
	const n = 300_000
	testenv.Produce(t, e.kafka.Brokers, e.topic, encode(t, events("kill", n, time.Now().UTC())))
	cfg := childConfig{
		Brokers: e.kafka.Brokers, Topic: e.topic, Group: e.group, DeadLetter: e.deadLetter,
		ClickHouseAddr: e.ch.Addr, Database: e.ch.Database, BatchSize: 20_000, FlushInterval: time.Second,
		SessionTimeout: 6 * time.Second,
	}
	spawn := func() *exec.Cmd { return testenv.SpawnChild(t, "TestIngestChildProcess", childEnv, cfg) }

	// Kill the ingest three times, each time while it is storing batches.
	var stored uint64
	for kill := range 3 {
		child := spawn()
		target := stored + n/10
		require.Eventually(t, func() bool {
			_, stored = counts(t, e.ch)
			return stored >= target
		}, 90*time.Second, 10*time.Millisecond, "kill %d: ingest made no progress", kill)
		// A random delay moves the kill around the insert → commit cycle of a batch.
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		require.NoError(t, child.Process.Signal(syscall.SIGKILL))
		_ = child.Wait()
		_, stored = counts(t, e.ch)
		require.Less(t, stored, uint64(n), "kill %d came after the ingest had finished", kill)
		t.Logf("kill %d: SIGKILL with %d of %d request ids stored, offsets committed up to %d messages", kill, stored, n, committed(t, e))
	}

	spawn() // killed when the test ends
	waitDistinct(t, e.ch, n, 120*time.Second)
	require.Eventually(t, func() bool { return committed(t, e) == n }, 30*time.Second, 50*time.Millisecond)

	var final, limitBy uint64
	raw, distinct := counts(t, e.ch)
	require.NoError(t, e.ch.Conn.QueryRow(ctx, "SELECT count() FROM "+db+".request_logs FINAL").Scan(&final))
	require.NoError(t, e.ch.Conn.QueryRow(ctx, "SELECT count() FROM (SELECT request_id FROM "+db+".request_logs LIMIT 1 BY request_id)").Scan(&limitBy))
	assert.Equal(t, uint64(n), distinct, "nothing lost")
	assert.Equal(t, uint64(n), final, "no duplicate visible through FINAL")
	assert.Equal(t, uint64(n), limitBy, "no duplicate visible through LIMIT 1 BY")
	t.Logf("after 3 SIGKILLs: %d raw rows for %d events (%d redelivered duplicates before dedup)", raw, n, raw-n)

	// A merge folds the copies away for good.
	require.NoError(t, e.ch.Conn.Exec(ctx, "SYSTEM START MERGES "+db+".request_logs"))
	require.NoError(t, e.ch.Conn.Exec(ctx, "OPTIMIZE TABLE "+db+".request_logs FINAL"))
	raw, _ = counts(t, e.ch)
	assert.Equal(t, uint64(n), raw, "ReplacingMergeTree keeps one row per key after a merge")
}
