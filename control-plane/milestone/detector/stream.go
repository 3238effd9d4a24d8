package detector

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/control-plane/milestone"
)

// stream is one topic's consumer: its reader, its decider and the set of partners that
// already reached its two milestones. One goroutine runs it, so the set needs no lock.
type stream struct {
	cfg          Config
	kind         *streamKind
	topic, group string
	m            streamMetrics
	decider      decider
	// reached maps a partner to the bits (1 test, 2 live) of k's milestones it has.
	reached map[string]uint8
	// hasFn is s.has, made once: a method value made per message would allocate.
	hasFn func([]byte, milestone.Name) bool
}

func newStream(cfg Config, m *metrics, kind streamKind, topicName, group string) *stream {
	s := &stream{cfg: cfg, kind: &kind, topic: topicName, group: group, m: m.forStream(kind.name),
		decider: kind.newDecider(), reached: map[string]uint8{}}
	s.hasFn = s.has
	return s
}

func (s *stream) bit(name milestone.Name) uint8 {
	if name == s.kind.live {
		return 2
	}
	return 1
}

// has reports whether partner already reached name; it does not allocate.
func (s *stream) has(partner []byte, name milestone.Name) bool {
	return s.reached[string(partner)]&s.bit(name) != 0
}

const loadSQL = `SELECT partner_id, milestone FROM onboarding_milestones WHERE milestone = ANY($1)`

// load fills the reached set from PostgreSQL, retrying until it succeeds or ctx ends.
func (s *stream) load(ctx context.Context) error {
	ok := s.retry(ctx, "load reached milestones", func(ctx context.Context) error {
		rows, err := s.cfg.Pool.Query(ctx, loadSQL, []string{string(s.kind.test), string(s.kind.live)})
		if err != nil {
			return err
		}
		set := map[string]uint8{}
		var partner, name string
		_, err = pgx.ForEachRow(rows, []any{&partner, &name}, func() error {
			set[partner] |= s.bit(milestone.Name(name))
			return nil
		})
		if err == nil {
			s.reached = set
		}
		return err
	})
	if !ok {
		return ctx.Err()
	}
	return nil
}

// batch is consecutive messages: the highest offset per partition and the earliest
// event per milestone not yet reached.
type batch struct {
	messages   int
	offsets    map[int]int64
	candidates map[candidateKey]milestone.Reached
	skipped    map[string]int
	lastEvent  time.Time
}

type candidateKey struct {
	partner string
	name    milestone.Name
}

func newBatch() *batch {
	return &batch{offsets: map[int]int64{}, candidates: map[candidateKey]milestone.Reached{}, skipped: map[string]int{}}
}

func (b *batch) reset() {
	b.messages, b.lastEvent = 0, time.Time{}
	clear(b.offsets)
	clear(b.candidates)
	clear(b.skipped)
}

// add decides msg and keeps its offset; the message's buffers are not kept.
func (s *stream) add(b *batch, msg kafka.Message) {
	b.messages++
	if o, ok := b.offsets[msg.Partition]; !ok || msg.Offset > o {
		b.offsets[msg.Partition] = msg.Offset
	}
	if !msg.Time.IsZero() {
		b.lastEvent = msg.Time
	}
	r, ok, reason := s.decider.decide(msg.Value, s.hasFn, s.kind)
	if reason != "" {
		b.skipped[reason]++
		s.cfg.Logger.Warn("milestone detector: skipped a message", "stream", s.kind.name, "reason", reason,
			"topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset)
		return
	}
	if !ok {
		return
	}
	key := candidateKey{r.PartnerID, r.Milestone}
	if prev, seen := b.candidates[key]; !seen || r.At.Before(prev.At) {
		b.candidates[key] = r
	}
}

// run loads the reached set, then reads batches, writes their milestones and commits
// their offsets until ctx ends.
func (s *stream) run(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		return fmt.Errorf("milestone detector (%s): %w", s.kind.name, err)
	}
	r := kafka.NewReader(s.readerConfig())
	defer func() {
		if err := r.Close(); err != nil {
			s.cfg.Logger.Warn("milestone detector: close reader", "stream", s.kind.name, "err", err)
		}
	}()
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); s.watchLag(lagCtx, r) }()
	defer func() { stopLag(); <-lagDone }() // deferred after the reader's Close, so it runs before it
	b := newBatch()
	for {
		if !s.fill(ctx, r, b) {
			return ctx.Err()
		}
		if b.messages == 0 {
			continue
		}
		if !s.write(ctx, b) {
			return ctx.Err() // not committed: the batch is read again after a restart
		}
		s.commit(ctx, r, b)
		s.m.events.Add(float64(b.messages))
		for reason, n := range b.skipped {
			s.m.skipped.WithLabelValues(reason).Add(float64(n))
		}
		if !b.lastEvent.IsZero() {
			s.m.lastEvent.Set(float64(b.lastEvent.UnixMilli()) / 1000)
		}
		b.reset()
	}
}

func (s *stream) readerConfig() kafka.ReaderConfig {
	log := s.cfg.Logger.With("component", "kafka-reader", "stream", s.kind.name)
	return kafka.ReaderConfig{
		Brokers: s.cfg.Brokers, GroupID: s.group, Topic: s.topic,
		CommitInterval: 0, // explicit, after the batch is written
		StartOffset:    kafka.FirstOffset,
		MinBytes:       1, MaxBytes: 10 << 20,
		MaxWait:           250 * time.Millisecond,
		QueueCapacity:     10_000,
		SessionTimeout:    s.cfg.SessionTimeout,
		HeartbeatInterval: max(s.cfg.SessionTimeout/10, 500*time.Millisecond),
		RebalanceTimeout:  s.cfg.SessionTimeout,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn(fmt.Sprintf(msg, args...))
		}),
	}
}

// fill fetches into b until it holds BatchSize messages or its first message has waited
// FlushInterval. It returns false when ctx ended.
func (s *stream) fill(ctx context.Context, r *kafka.Reader, b *batch) bool {
	// fetch.ctx carries the batch's flush deadline once it has a message.
	fetch := struct {
		ctx    context.Context
		cancel context.CancelFunc
	}{ctx, func() {}}
	defer func() { fetch.cancel() }()
	backoff := s.cfg.RetryMin
	for b.messages < s.cfg.BatchSize {
		msg, err := r.FetchMessage(fetch.ctx)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return false
		case fetch.ctx.Err() != nil:
			return true // the flush interval passed
		default:
			s.m.fetchErrors.Inc()
			s.cfg.Logger.Warn("milestone detector: fetch failed", "stream", s.kind.name, "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return false
			}
			backoff = min(backoff*2, s.cfg.RetryMax)
			continue
		}
		if b.messages == 0 {
			fetch.ctx, fetch.cancel = context.WithTimeout(ctx, s.cfg.FlushInterval)
		}
		s.add(b, msg)
	}
	return true
}

const knownPartnersSQL = `SELECT id FROM partners WHERE id = ANY($1)`

// write records b's candidates in one transaction, retrying the whole batch until it
// commits or ctx ends (false). Only after the commit are they added to the reached set.
func (s *stream) write(ctx context.Context, b *batch) bool {
	if len(b.candidates) == 0 {
		return true
	}
	cands := make([]milestone.Reached, 0, len(b.candidates))
	for _, r := range b.candidates {
		cands = append(cands, r)
	}
	// One order for every writer, so two detectors (or a backfill) never deadlock.
	milestone.SortForRecording(cands)
	ids := make([]string, 0, len(cands))
	for _, r := range cands {
		if len(ids) == 0 || ids[len(ids)-1] != r.PartnerID {
			ids = append(ids, r.PartnerID)
		}
	}
	var stored []milestone.Reached
	known := map[string]bool{}
	ok := s.retry(ctx, "write milestones", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
		defer cancel()
		return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, knownPartnersSQL, ids)
			if err != nil {
				return err
			}
			clear(known)
			var id string
			if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { known[id] = true; return nil }); err != nil {
				return err
			}
			mine := make([]milestone.Reached, 0, len(cands))
			for _, r := range cands {
				if known[r.PartnerID] {
					mine = append(mine, r)
				}
			}
			stored, err = milestone.RecordAll(ctx, tx, s.cfg.Jobs, mine)
			return err
		})
	})
	if !ok {
		return false
	}
	for _, r := range cands {
		if known[r.PartnerID] {
			s.reached[r.PartnerID] |= s.bit(r.Milestone)
		} else {
			// Unknown partners stay out of the set: an event naming one costs a lookup
			// per batch it appears in, never a row.
			b.skipped[ReasonUnknownPartner]++
		}
	}
	for _, r := range stored {
		s.m.recorded.WithLabelValues(string(r.Milestone)).Inc()
		s.cfg.Logger.Info("milestone detected", "partner_id", r.PartnerID, "milestone", r.Milestone,
			"at", r.At, "event_id", r.EventID, "source", r.Source)
	}
	return true
}

// commit commits b's offsets (at most 3 tries): b is written, so a failed commit costs
// only its redelivery, which changes nothing, and the next batch's commit covers it.
func (s *stream) commit(ctx context.Context, r *kafka.Reader, b *batch) {
	msgs := make([]kafka.Message, 0, len(b.offsets))
	for p, o := range b.offsets {
		msgs = append(msgs, kafka.Message{Topic: s.topic, Partition: p, Offset: o})
	}
	var err error
	for attempt := range 3 {
		if attempt > 0 && !sleep(ctx, s.cfg.RetryMin) {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = r.CommitMessages(cctx, msgs...)
		cancel()
		if err == nil {
			return
		}
	}
	s.m.commitErrors.Inc()
	s.cfg.Logger.Error("milestone detector: commit failed after the batch was written; it may be read again",
		"stream", s.kind.name, "err", err)
}

// retry runs op until it succeeds (true) or ctx ends (false), backing off from RetryMin
// to RetryMax.
func (s *stream) retry(ctx context.Context, what string, op func(context.Context) error) bool {
	backoff := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			if attempt > 1 {
				s.cfg.Logger.Info("milestone detector: "+what+" succeeded after retries", "stream", s.kind.name, "attempts", attempt)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.m.writeErrors.Inc()
		s.cfg.Logger.Warn("milestone detector: "+what+" failed; retrying, nothing is committed", "stream", s.kind.name,
			"err", err, "attempt", attempt, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, s.cfg.RetryMax)
	}
}

// watchLag copies kafka-go's lag figure into the gauge every second.
func (s *stream) watchLag(ctx context.Context, r *kafka.Reader) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.m.lag.Set(float64(r.Stats().Lag))
		}
	}
}

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
