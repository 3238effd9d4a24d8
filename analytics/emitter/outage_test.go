package emitter_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/emitter"
	"github.com/steller/platform/analytics/requestlog"
)

// TestKafkaOutageDuringStream stops the broker for a few seconds in the middle of a steady
// stream: Emit never drops (so never waited), the events spool, and after the broker is back
// every event arrives, in order per partner, with replayed equal to spooled.
func TestKafkaOutageDuringStream(t *testing.T) {
	t.Parallel()
	const topicName = "steller.request-logs.v1"
	dataDir := t.TempDir()
	broker, port := startKfake(t, 0, dataDir, topicName)
	brokers := broker.ListenAddrs()
	// An 8 MiB spool has 512 KiB segments: the outage spans several of them.
	e := newEmitter(t, brokers, topicName, t.TempDir(), func(c *emitter.Config) { c.SpoolMaxBytes = 8 << 20 })

	var (
		emitted  atomic.Int64
		maxEmit  atomic.Int64
		maxBare  atomic.Int64 // a bare channel send timed the same way, for comparison
		slowEmit atomic.Int64 // Emits over 100µs
		slowBare atomic.Int64
		bare     = make(chan requestlog.Event, 10_000)
		stopping = make(chan struct{})
		streamed = make(chan struct{})
	)
	go func() {
		for range bare {
		}
	}()
	go func() { // about 2,000 events/s from 4 partners
		defer close(streamed)
		defer close(bare)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-stopping:
				return
			case <-tick.C:
			}
			for k := range 2 {
				ev := event(2*seq+k, 4)
				emit := func() { e.Emit(ev) }
				send := func() {
					select {
					case bare <- ev:
					default:
					}
				}
				// Alternate which goes first, so neither always pays for waking up.
				if seq%2 == 0 {
					timeCall(emit, &maxEmit, &slowEmit)
					timeCall(send, &maxBare, &slowBare)
				} else {
					timeCall(send, &maxBare, &slowBare)
					timeCall(emit, &maxEmit, &slowEmit)
				}
				emitted.Add(1)
			}
		}
	}()

	time.Sleep(time.Second)
	broker.Close()
	t.Log("broker stopped")
	waitFor(t, 10*time.Second, "events to spool", func() bool { return e.Stats().Spooled > 0 })
	time.Sleep(3 * time.Second)
	broker, _ = startKfake(t, port, dataDir, topicName)
	defer broker.Close()
	t.Log("broker restarted")
	time.Sleep(time.Second)
	close(stopping)
	<-streamed

	n := int(emitted.Load())
	waitFor(t, 30*time.Second, "the spool to drain", func() bool {
		s := e.Stats()
		return !s.Spooling && int(s.Sent+s.Replayed) >= n
	})
	require.NoError(t, e.Close(context.Background()))
	s := e.Stats()
	t.Logf("emitted %d, stats %+v", n, s)
	t.Logf("diagnostic only: longest Emit %s (%d over 100µs), longest bare channel send %s (%d over 100µs)",
		time.Duration(maxEmit.Load()), slowEmit.Load(), time.Duration(maxBare.Load()), slowBare.Load())
	assert.Zero(t, s.DroppedTotal(), "no event dropped: Emit never found the queue full")
	assert.Positive(t, s.Spooled)
	assert.Equal(t, s.Spooled, s.Replayed)
	assert.Zero(t, s.SpoolBytes)

	dups := checkDelivered(t, consumeAll(t, brokers, topicName, n, 30*time.Second), seqs(0, n))
	t.Logf("duplicates: %d", dups)
}

// timeCall runs f and records its duration in longest and, past 100µs, counts it in slow.
func timeCall(f func(), longest, slow *atomic.Int64) {
	start := time.Now()
	f()
	d := int64(time.Since(start))
	if d > longest.Load() {
		longest.Store(d)
	}
	if d > int64(100*time.Microsecond) {
		slow.Add(1)
	}
}

// TestKafkaDownAtStart emits while no broker listens, then starts one: everything that was
// spooled is replayed, in order, and new events go straight through again.
func TestKafkaDownAtStart(t *testing.T) {
	t.Parallel()
	const topicName = "steller.request-logs.v1"
	port := freePort(t)
	e := newEmitter(t, []string{"127.0.0.1:" + itoa(port)}, topicName, t.TempDir(), nil)
	const n = 500
	for i := range n {
		e.Emit(event(i, 5))
	}
	waitFor(t, 20*time.Second, "all events to spool", func() bool { return e.Stats().Spooled == n })
	assert.True(t, e.Stats().Spooling)

	broker, _ := startKfake(t, port, "", topicName)
	defer broker.Close()
	waitFor(t, 30*time.Second, "the spool to drain", func() bool { return !e.Stats().Spooling })
	for i := n; i < 2*n; i++ {
		e.Emit(event(i, 5))
	}
	require.NoError(t, e.Close(context.Background()))
	s := e.Stats()
	assert.Equal(t, uint64(n), s.Replayed)
	assert.Equal(t, uint64(n), s.Sent, "after the replay, events go straight to Kafka")
	assert.Zero(t, s.DroppedTotal())
	checkDelivered(t, consumeAll(t, broker.ListenAddrs(), topicName, 2*n, 30*time.Second), seqs(0, 2*n))
}

// TestSpoolFullDropsNewEvents fills a small spool while Kafka is down: the events that do
// not fit are dropped, counted and reported in a handful of log lines, and the spooled ones
// (the oldest) are still replayed.
func TestSpoolFullDropsNewEvents(t *testing.T) {
	t.Parallel()
	const topicName = "steller.request-logs.v1"
	port := freePort(t)
	logs := &syncBuffer{}
	e := newEmitter(t, []string{"127.0.0.1:" + itoa(port)}, topicName, t.TempDir(), func(c *emitter.Config) {
		c.SpoolMaxBytes = 64 << 10
		c.DropLogInterval = time.Hour
		c.Logger = slogTo(logs)
	})
	const n = 1000
	for i := range n {
		e.Emit(event(i, 3))
	}
	waitFor(t, 20*time.Second, "every event spooled or dropped", func() bool {
		s := e.Stats()
		return s.Spooled+s.Dropped[emitter.DropSpoolFull] == n
	})
	s := e.Stats()
	require.Positive(t, s.Spooled)
	require.Positive(t, s.Dropped[emitter.DropSpoolFull])
	assert.LessOrEqual(t, s.SpoolBytes, int64(64<<10))

	broker, _ := startKfake(t, port, "", topicName)
	defer broker.Close()
	waitFor(t, 30*time.Second, "the spool to drain", func() bool { return e.Stats().Replayed == s.Spooled })
	require.NoError(t, e.Close(context.Background()))

	kept := int(s.Spooled)
	checkDelivered(t, consumeAll(t, broker.ListenAddrs(), topicName, kept, 30*time.Second), seqs(0, kept))
	reports := countLines(logs.String(), "DROPPED")
	t.Logf("%d events dropped, %d drop reports in the log", s.Dropped[emitter.DropSpoolFull], reports)
	assert.GreaterOrEqual(t, reports, 1, "drops are logged")
	assert.LessOrEqual(t, reports, 2, "drops are logged once per interval, not per event")
}

// TestCloseFlushes closes the emitter while a batch is still gathering: Close sends it.
func TestCloseFlushes(t *testing.T) {
	t.Parallel()
	const topicName = "steller.request-logs.v1"
	broker, _ := startKfake(t, 0, "", topicName)
	defer broker.Close()
	e := newEmitter(t, broker.ListenAddrs(), topicName, t.TempDir(), func(c *emitter.Config) {
		c.BatchTimeout = time.Hour // nothing leaves before Close
		c.BatchSize = 10_000
	})
	const n = 300
	for i := range n {
		e.Emit(event(i, 7))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.Close(ctx))
	assert.Equal(t, uint64(n), e.Stats().Sent)
	e.Emit(event(n, 7))
	assert.Equal(t, uint64(1), e.Stats().Dropped[emitter.DropClosed], "Emit after Close is counted, not sent")
	checkDelivered(t, consumeAll(t, broker.ListenAddrs(), topicName, n, 30*time.Second), seqs(0, n))
}
