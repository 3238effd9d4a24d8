// Package ingest owns the Kafka → ClickHouse ingest of Steller's event streams: a
// consumer-group reader per stream that decodes its messages, stores them in batches, and
// commits offsets only after a batch is stored. Two streams share the machinery (Stream):
// request logs (requestlog.Event from steller.request-logs.v1 into request_logs) and
// order events (orderevent.Event, sandbox and live, from steller.order-events.v1 into
// order_events), each with its own consumer group.
//
// Delivery is at least once. A batch is stored (dead letters to their topic, rows by one
// column-named ClickHouse insert) and only then are its offsets committed, so a crash
// between the two replays that batch; the tables deduplicate by the event's identity
// (request id, event id; see package schema). While ClickHouse fails, the same batch is retried with capped
// exponential backoff, nothing is committed, and fetching stops once the batch being
// filled is full. Messages that cannot become rows go to the dead-letter topic with the
// reason in headers and count as handled. Within a process, up to InsertConcurrency
// batches are decoded and inserted at once while offsets are committed in batch order;
// across processes, scaling out is by partitions: run more with the same GroupID.
package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/deadletter"
)

// Ingest moves one stream's events from Kafka into ClickHouse.
type Ingest struct {
	cfg     Config
	spec    streamSpec
	metrics *metrics
	// decoders holds one decoder per concurrent store (they are not thread-safe).
	decoders chan decoder
	insert   string
	free     chan *batch
}

// New validates cfg and registers the metrics. It does not connect: Run does.
func New(cfg Config) (*Ingest, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	spec, _ := cfg.Stream.spec() // withDefaults checked it
	m, err := newMetrics(cfg.Registerer, spec.table)
	if err != nil {
		return nil, err
	}
	in := &Ingest{
		cfg: cfg, spec: spec, metrics: m,
		decoders: make(chan decoder, cfg.InsertConcurrency),
		insert:   insertSQL(cfg.Database, spec.table, spec.columns),
		// Batches in flight: one filling, one handed over, InsertConcurrency storing.
		free: make(chan *batch, cfg.InsertConcurrency+2),
	}
	for range cfg.InsertConcurrency {
		in.decoders <- spec.newDecoder(cfg)
	}
	return in, nil
}

// Run consumes until ctx ends (call it once per Ingest), then stores the batches already handed over (within
// StopTimeout), commits them and leaves the group. It returns an error only if it cannot
// start (the dead-letter topic cannot be created).
func (in *Ingest) Run(ctx context.Context) error {
	dlq, err := deadletter.NewWriter(ctx, in.cfg.Brokers, in.cfg.DeadLetterTopic, in.cfg.DeadLetterReplication)
	if err != nil {
		return fmt.Errorf("ingest: dead-letter topic: %w", err)
	}
	reader := kafka.NewReader(in.readerConfig())

	// work outlives ctx by at most StopTimeout so the last batches can still be stored.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	go func() {
		select {
		case <-ctx.Done():
		case <-work.Done():
			return
		}
		t := time.NewTimer(in.cfg.StopTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			stopWork()
		case <-work.Done():
		}
	}()

	batches := make(chan *batch, 1)
	var stored, watched sync.WaitGroup
	stored.Go(func() { in.storeLoop(work, reader, dlq, batches) })
	watched.Go(func() { in.watchLag(work, reader) })
	in.collect(ctx, work, reader, batches)
	stored.Wait()
	stopWork()
	watched.Wait()
	if err := reader.Close(); err != nil {
		in.cfg.Logger.Warn("ingest: close reader", "err", err)
	}
	if err := dlq.Close(); err != nil {
		in.cfg.Logger.Warn("ingest: close dead-letter writer", "err", err)
	}
	return nil
}

func (in *Ingest) readerConfig() kafka.ReaderConfig {
	log := in.cfg.Logger.With("component", "kafka-reader")
	return kafka.ReaderConfig{
		Brokers: in.cfg.Brokers, GroupID: in.cfg.GroupID, Topic: in.cfg.Topic,
		// Commits are explicit and synchronous: after the batch is stored.
		CommitInterval: 0,
		StartOffset:    kafka.FirstOffset,
		MinBytes:       1, MaxBytes: in.cfg.FetchMaxBytes,
		// The broker answers a fetch as soon as it has a byte, or after MaxWait.
		MaxWait:           250 * time.Millisecond,
		QueueCapacity:     in.cfg.QueueCapacity,
		SessionTimeout:    in.cfg.SessionTimeout,
		HeartbeatInterval: max(in.cfg.SessionTimeout/10, 500*time.Millisecond),
		RebalanceTimeout:  in.cfg.SessionTimeout,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn(fmt.Sprintf(msg, args...))
		}),
	}
}

// collect fetches messages into batches and hands each to the store loop when
// it is full or its oldest message has waited FlushInterval. It closes out when ctx ends.
func (in *Ingest) collect(ctx, work context.Context, r *kafka.Reader, out chan<- *batch) {
	defer close(out)
	b := in.batch()
	// fetch.ctx carries the current batch's flush deadline; no deadline while it is empty.
	fetch := struct {
		ctx    context.Context
		cancel context.CancelFunc
	}{ctx, func() {}}
	defer func() { fetch.cancel() }()
	hand := func() bool {
		fetch.cancel()
		fetch.ctx, fetch.cancel = ctx, func() {}
		if b.messages == 0 {
			return true
		}
		select {
		case out <- b:
			b = in.batch()
			return true
		case <-ctx.Done():
			return false
		}
	}
	backoff := in.cfg.RetryMin
	for {
		msg, err := r.FetchMessage(fetch.ctx)
		switch {
		case err == nil:
			backoff = in.cfg.RetryMin
		case ctx.Err() != nil:
			// Stopping: hand over the batch being filled, unless storing is out of time.
			if b.messages > 0 {
				select {
				case out <- b:
				case <-work.Done():
				}
			}
			return
		case fetch.ctx.Err() != nil:
			hand()
			continue
		default:
			in.metrics.fetchErrors.Inc()
			in.cfg.Logger.Warn("ingest: fetch failed", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				continue // the ctx.Err case above runs next
			}
			backoff = min(backoff*2, in.cfg.RetryMax)
			continue
		}
		if b.messages == 0 {
			fetch.ctx, fetch.cancel = context.WithTimeout(ctx, in.cfg.FlushInterval)
		}
		in.metrics.fetched.Inc()
		b.track(msg)
		if b.messages >= in.cfg.BatchSize {
			// false only when ctx ended while the store loop was busy: the next fetch
			// then returns at once and hands b over within the stop bound.
			hand()
		}
	}
}

// batch returns an empty batch, reusing a stored one when possible.
func (in *Ingest) batch() *batch {
	select {
	case b := <-in.free:
		return b
	default:
		return newBatch(in.spec.newRows())
	}
}

// storeLoop decodes and stores up to InsertConcurrency batches at once (dead letters, then
// rows) and
// commits their offsets strictly in order: a batch's offsets are committed only after it
// and every batch before it are stored, so a commit never covers an unstored message.
func (in *Ingest) storeLoop(ctx context.Context, r *kafka.Reader, dlq *kafka.Writer, batches <-chan *batch) {
	type pending struct {
		b      *batch
		start  time.Time
		stored chan bool
	}
	ordered := make(chan pending, in.cfg.InsertConcurrency-1)
	var committer sync.WaitGroup
	committer.Go(func() {
		failed := false
		for p := range ordered {
			if ok := <-p.stored; !ok || failed {
				// Only a stop cuts storing short; later batches must not commit past it.
				failed = true
				in.cfg.Logger.Warn("ingest: stopped before a batch was stored; it will be redelivered",
					"messages", p.b.messages, "rows", p.b.rows())
				continue
			}
			in.commit(ctx, r, p.b)
			in.metrics.batches.Inc()
			in.metrics.rowsInserted.Add(float64(p.b.rows()))
			in.metrics.batchSeconds.Observe(in.cfg.Now().Sub(p.start).Seconds())
			p.b.reset()
			select {
			case in.free <- p.b:
			default:
			}
		}
	})
	for b := range batches {
		p := pending{b: b, start: in.cfg.Now(), stored: make(chan bool, 1)}
		ordered <- p // waits while InsertConcurrency batches are being stored
		go func() {
			v := <-in.decoders
			b.decode(v)
			in.decoders <- v
			p.stored <- in.deadLetter(ctx, dlq, b) && in.store(ctx, b)
		}()
	}
	close(ordered)
	committer.Wait()
}

// deadLetter writes b's undecodable messages to the dead-letter topic, retrying until it
// succeeds or ctx ends (false).
func (in *Ingest) deadLetter(ctx context.Context, w *kafka.Writer, b *batch) bool {
	if len(b.dead) == 0 {
		return true
	}
	msgs := make([]kafka.Message, len(b.dead))
	now := in.cfg.Now()
	for i, d := range b.dead {
		msgs[i] = deadLetterMessage(d, now)
	}
	ok := in.retry(ctx, "dead-letter write", func(ctx context.Context) error {
		return w.WriteMessages(ctx, msgs...)
	}, in.metrics.deadLetterError, nil)
	if ok {
		for _, d := range b.dead {
			in.metrics.deadLettered.WithLabelValues(d.why.reason).Inc()
			in.cfg.Logger.Warn("ingest: dead-lettered a message", "reason", d.why.reason, "error", d.why.detail,
				"topic", d.msg.Topic, "partition", d.msg.Partition, "offset", d.msg.Offset)
		}
	}
	return ok
}

// store inserts b's rows with one column-named batch, retrying the same rows until the
// insert succeeds or ctx ends (false).
func (in *Ingest) store(ctx context.Context, b *batch) bool {
	if b.rows() == 0 {
		return true
	}
	return in.retry(ctx, "insert", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, in.cfg.InsertTimeout)
		defer cancel()
		cb, err := in.cfg.Conn.PrepareBatch(ctx, in.insert)
		if err != nil {
			return err
		}
		if err := b.table.appendTo(cb, in.cfg.Now().UTC().Truncate(time.Second)); err != nil {
			_ = cb.Abort()
			return err
		}
		return cb.Send()
	}, in.metrics.insertErrors, in.metrics.insertRetries)
}

// retry runs op until it succeeds (true) or ctx ends (false), backing off exponentially
// between attempts from RetryMin up to RetryMax.
func (in *Ingest) retry(ctx context.Context, what string, op func(context.Context) error, failures, retries interface{ Inc() }) bool {
	backoff := in.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			if attempt > 1 {
				in.cfg.Logger.Info("ingest: "+what+" succeeded after retries", "attempts", attempt)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		failures.Inc()
		in.cfg.Logger.Warn("ingest: "+what+" failed; retrying the same batch", "err", err, "attempt", attempt, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		if retries != nil {
			retries.Inc()
		}
		backoff = min(backoff*2, in.cfg.RetryMax)
	}
}

// commit commits b's offsets. A failed commit is not retried forever: the batch is
// stored, so the worst outcome is its redelivery (deduplicated by the event id), and the
// next batch's commit covers these offsets anyway.
func (in *Ingest) commit(ctx context.Context, r *kafka.Reader, b *batch) {
	msgs := b.commits(in.cfg.Topic)
	var err error
	for attempt := range 3 {
		if attempt > 0 && !sleep(ctx, in.cfg.RetryMin) {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = r.CommitMessages(cctx, msgs...)
		cancel()
		if err == nil {
			return
		}
	}
	in.metrics.commitErrors.Inc()
	in.cfg.Logger.Error("ingest: commit failed after the batch was stored; it may be redelivered", "err", err)
}

// watchLag copies kafka-go's lag figure into the gauge every second.
func (in *Ingest) watchLag(ctx context.Context, r *kafka.Reader) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			in.metrics.lag.Set(float64(r.Stats().Lag))
		}
	}
}

// sleep waits d or until ctx ends, reporting whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
