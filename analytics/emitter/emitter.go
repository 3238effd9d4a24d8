// Package emitter owns the edge's request-log producer: it takes requestlog.Events from the
// request path and delivers them to the Kafka topic steller.request-logs.v1 (key = partner
// id), and it is the only place that knows what happens to an event when Kafka is away.
//
// # Design
//
// Emit copies the Event into a bounded channel with a non-blocking send and returns; it
// takes no lock (two atomic adds guard against a concurrent Close) and does not encode.
// Handing over the struct costs no allocation, while encoding on the request path would
// cost two allocations and 2-4 µs on the test machines (BenchmarkEventEncode), more than
// the whole 2 µs budget; BenchmarkEmit beside BenchmarkEmitBaselineChannelSend shows what
// Emit costs over a bare channel send. If the queue is full, Emit drops the event and
// counts it (reason queue_full); it never waits. Because the background never waits on the
// network (below), the queue only has to absorb bursts and short pauses of the background,
// not a Kafka outage: the default 10,000 holds a second of traffic at 10,000 requests/s,
// far longer than the background's pauses (a GC, an fsync).
//
// One background goroutine (the loop) is the queue's only reader and the spool's only
// user. A second goroutine (the sender) owns the kafka-go Writer and writes one batch at a
// time, synchronously, so the loop learns which batch failed. The loop never does network
// I/O itself, so it keeps draining the queue whatever Kafka does:
//
//   - Direct mode (spool empty): the loop gathers events into a batch (BatchSize, BatchBytes
//     or BatchTimeout) and gives it to the sender when the sender is idle.
//   - A batch that fails, or that is still unanswered after StallTimeout, goes to the spool
//     (the failed messages, then everything gathered behind them), and the loop switches to
//     spool mode.
//   - Spool mode: every new event is appended to the spool, so order is kept. The sender
//     replays the spool in order, one batch at a time, retrying with exponential backoff
//     (BackoffMin to BackoffMax) while Kafka is unreachable; a batch is acknowledged in the
//     spool only after Kafka acknowledged it, and segments are deleted only once wholly
//     acknowledged. When the spool is empty the loop returns to direct mode.
//
// Per-partner order holds because one partner's events always hash to one partition, the
// loop has at most one batch in flight, and a batch never holds two kafka-go batches for one
// partition (the Writer's BatchSize and BatchBytes are at least ours).
//
// Delivery is at least once. A batch abandoned after StallTimeout, a write whose
// acknowledgement was lost, or a crash between a replay and its acknowledgement can send an
// event twice; consumers deduplicate on request id (see analytics/requestlog).
//
// The spool (see spool.go for the format and fsync policy) is bounded by SpoolMaxBytes; when
// it is full, new events are dropped (reason spool_full) while the ones already spooled are
// kept and replayed. Drops are logged at most once per DropLogInterval, with counts. A spool
// left on disk by an earlier process is replayed on start; a torn or corrupt record is
// skipped with a log line (reason spool_corrupt).
//
// Close stops taking events, sends what is queued (or spools it if Kafka is down or the
// deadline comes first), and syncs the spool: nothing accepted by Emit is lost on a clean
// shutdown unless the spool is full. A crash (not a clean shutdown) loses what was still in
// memory: the queue and the batch being gathered, at most QueueSize plus BatchSize events.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/analytics/topic"
)

// Config configures an Emitter; zero values take the documented defaults.
type Config struct {
	// Brokers are the Kafka bootstrap addresses (required).
	Brokers []string
	// Topic is the topic to produce to (default topic.RequestLogs).
	Topic string
	// Logger receives state changes and rate-limited drop reports (required).
	Logger *slog.Logger
	// Clock tells the time for the batch, stall, backoff and drop-report deadlines (default
	// time.Now); the background sleeps on real timers, so a fake clock must keep moving.
	Clock func() time.Time
	// Registerer, when set, receives the steller_emitter_* metrics.
	Registerer prometheus.Registerer

	// QueueSize bounds the in-memory queue between Emit and the background (default 10,000).
	QueueSize int
	// BatchSize is the most events per Kafka produce (default 1,000).
	BatchSize int
	// BatchBytes is the most encoded bytes per produce; a larger event is dropped (default
	// 1 MiB, Kafka's default message.max.bytes).
	BatchBytes int64
	// BatchTimeout is how long a batch may wait to fill before it is sent (default 10 ms).
	BatchTimeout time.Duration
	// WriteTimeout bounds one produce request, retries included (default 10 s).
	WriteTimeout time.Duration
	// StallTimeout is how long a batch may go unanswered before its events, and all behind
	// them, go to the spool (default 2 s).
	StallTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between replay attempts while Kafka is down
	// (defaults 100 ms and 5 s).
	BackoffMin, BackoffMax time.Duration

	// SpoolDir is the spool's directory, one per emitter (required).
	SpoolDir string
	// SpoolMaxBytes bounds the spool on disk (default 1 GiB).
	SpoolMaxBytes int64
	// DropLogInterval is the least time between two drop reports in the log (default 10 s).
	DropLogInterval time.Duration
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("emitter: Config.Brokers is required"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("emitter: Config.Logger is required"))
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("emitter: Config.SpoolDir is required"))
	}
	for name, v := range map[string]int64{
		"QueueSize": int64(c.QueueSize), "BatchSize": int64(c.BatchSize), "BatchBytes": c.BatchBytes,
		"SpoolMaxBytes": c.SpoolMaxBytes, "BatchTimeout": int64(c.BatchTimeout),
		"WriteTimeout": int64(c.WriteTimeout), "StallTimeout": int64(c.StallTimeout),
		"BackoffMin": int64(c.BackoffMin), "BackoffMax": int64(c.BackoffMax),
		"DropLogInterval": int64(c.DropLogInterval),
	} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("emitter: Config.%s must not be negative", name))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	c.Topic = or(c.Topic, topic.RequestLogs)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.QueueSize = or(c.QueueSize, 10_000)
	c.BatchSize = or(c.BatchSize, 1_000)
	c.BatchBytes = or(c.BatchBytes, 1<<20)
	c.BatchTimeout = or(c.BatchTimeout, 10*time.Millisecond)
	c.WriteTimeout = or(c.WriteTimeout, 10*time.Second)
	c.StallTimeout = or(c.StallTimeout, 2*time.Second)
	c.BackoffMin = or(c.BackoffMin, 100*time.Millisecond)
	c.BackoffMax = max(or(c.BackoffMax, 5*time.Second), c.BackoffMin)
	c.SpoolMaxBytes = or(c.SpoolMaxBytes, 1<<30)
	c.DropLogInterval = or(c.DropLogInterval, 10*time.Second)
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Emitter delivers request-log events to Kafka without ever blocking its caller; see the
// package doc for how.
type Emitter struct {
	cfg   Config
	log   *slog.Logger
	queue chan requestlog.Event
	c     counters

	emitting atomic.Int64 // Emit calls between their closed check and their send
	closed   atomic.Bool

	stop      chan context.Context // carries Close's context to the loop
	done      chan error           // the loop's result
	closeOnce sync.Once
	closeErr  error
}

var _ requestlog.Emitter = (*Emitter)(nil)

// New opens the spool (replaying whatever an earlier process left in it) and starts the
// background goroutines; Kafka need not be reachable yet.
func New(cfg Config) (*Emitter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	segmentBytes := min(max(cfg.SpoolMaxBytes/16, 64<<10), 64<<20)
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, segmentBytes, cfg.Logger)
	if err != nil {
		return nil, err
	}
	e := &Emitter{
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan requestlog.Event, cfg.QueueSize),
		stop:  make(chan context.Context),
		done:  make(chan error, 1),
	}
	if err := e.c.register(cfg.Registerer, func() float64 { return float64(len(e.queue)) }); err != nil {
		_ = sp.close()
		return nil, fmt.Errorf("emitter: metrics: %w", err)
	}
	snd := newSender(cfg)
	l := newLoop(e, sp, snd)
	go snd.run()
	go func() { e.done <- l.run() }()
	return e, nil
}

// Emit queues e for delivery. It never blocks: when the queue is full the event is dropped
// and counted.
func (e *Emitter) Emit(ev requestlog.Event) {
	e.emitting.Add(1)
	if e.closed.Load() {
		e.emitting.Add(-1)
		e.c.dropped[dropClosed].Add(1)
		return
	}
	select {
	case e.queue <- ev:
	default:
		e.c.dropped[dropQueueFull].Add(1)
	}
	e.emitting.Add(-1)
}

// Stats returns a snapshot of the emitter's counters.
func (e *Emitter) Stats() Stats {
	return e.c.snapshot(len(e.queue))
}

// Close stops accepting events and delivers what is queued to Kafka, or to the spool when
// Kafka is down or ctx ends first; then it syncs and releases the spool. A spool still
// being replayed stays on disk and is replayed by the next emitter opened on SpoolDir. It
// returns an error if events had to be dropped on the way out, or if the Kafka writer did
// not close before ctx ended. Later calls return the first result.
func (e *Emitter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		// An Emit that passed its closed check is a few instructions from its send; wait for
		// it so its event is in the queue before the loop drains it.
		for e.emitting.Load() != 0 {
			runtime.Gosched()
		}
		e.stop <- ctx
		e.closeErr = <-e.done
	})
	return e.closeErr
}
