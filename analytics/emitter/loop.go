package emitter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/requestlog"
)

// msgOverhead is what kafka-go adds to a message's key and value when it sizes a batch
// (length fields, attributes, timestamp); counting it keeps our batches within its limits.
const msgOverhead = 32

// loop is the emitter's background goroutine: the only reader of the queue and the only
// user of the spool. It decides, event by event, between the direct path and the spool,
// and never waits on the network itself (see the package doc).
type loop struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	queue chan requestlog.Event
	stop  chan context.Context
	c     *counters
	sp    *spool
	snd   *sender

	pending      []kafka.Message // next direct batch (direct mode only)
	pendingBytes int64
	pendingSince time.Time

	busy     *job // the job out at the sender, nil when it is idle
	retry    *job // a replay job to send again after the backoff
	spooling bool
	retryAt  time.Time
	backoff  time.Duration
	failures int // consecutive failed replays
	lastFail time.Time

	loggedDrops [len(dropReasons)]uint64
	lastDropLog time.Time
	lastDiskErr time.Time
	corrupt     uint64 // sp.corrupt already counted
}

func newLoop(e *Emitter, sp *spool, snd *sender) *loop {
	return &loop{
		cfg: e.cfg, log: e.log, now: e.cfg.Clock, queue: e.queue, stop: e.stop,
		c: &e.c, sp: sp, snd: snd,
	}
}

func (l *loop) run() error {
	if !l.sp.empty() {
		l.log.Info("emitter: replaying spool left by an earlier process", "dir", l.cfg.SpoolDir, "bytes", l.sp.bytes())
		l.setSpooling(true)
	}
	l.publishSpool()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		l.checkStall()
		l.dispatch()
		timer.Reset(l.untilNextDeadline())
		var queue chan requestlog.Event
		if l.readable() {
			queue = l.queue
		}
		select {
		case ev := <-queue:
			l.accept(ev)
			for i := 1; i < l.cfg.BatchSize && l.readable(); i++ {
				select {
				case ev := <-l.queue:
					l.accept(ev)
					continue
				default:
				}
				break
			}
			if l.spooling {
				l.flushSpool()
			}
		case r := <-l.snd.results:
			l.finish(r)
		case <-timer.C:
		case <-tick.C:
			l.housekeeping()
		case ctx := <-l.stop:
			return l.shutdown(ctx)
		}
	}
}

// readable reports whether the loop takes more events now. Only a direct batch waiting
// behind a busy sender stops it, and StallTimeout bounds that wait.
func (l *loop) readable() bool {
	return l.spooling || l.busy == nil || len(l.pending) < l.cfg.BatchSize
}

// untilNextDeadline is how long the loop may sleep before it has something to do.
func (l *loop) untilNextDeadline() time.Duration {
	now := l.now()
	next := now.Add(time.Hour)
	switch {
	case l.busy != nil && !l.busy.replay && !l.busy.abandoned:
		next = l.busy.start.Add(l.cfg.StallTimeout)
	case l.busy == nil && l.spooling:
		next = l.retryAt
	case l.busy == nil && len(l.pending) > 0:
		next = l.pendingSince.Add(l.cfg.BatchTimeout)
	}
	return max(next.Sub(now), time.Microsecond)
}

// accept encodes one event and sends it down the current path.
func (l *loop) accept(ev requestlog.Event) {
	value, err := json.Marshal(ev)
	var key []byte
	if ev.PartnerID != "" {
		key = []byte(ev.PartnerID)
	}
	size := int64(len(key) + len(value) + msgOverhead)
	if err != nil || size > l.cfg.BatchBytes {
		l.c.dropped[dropEncode].Add(1)
		return
	}
	msg := kafka.Message{Key: key, Value: value}
	if l.spooling {
		l.spoolMsgs([]kafka.Message{msg})
		return
	}
	if len(l.pending) == 0 {
		l.pendingSince = l.now()
	}
	l.pending = append(l.pending, msg)
	l.pendingBytes += size
}

// dispatch gives the sender its next job if it is idle and one is due.
func (l *loop) dispatch() {
	if l.busy != nil {
		return
	}
	now := l.now()
	if l.spooling {
		if now.Before(l.retryAt) {
			return
		}
		j := l.retry
		l.retry = nil
		if j == nil {
			j = l.readSpool()
		}
		if j != nil {
			l.send(j, now)
		}
		return
	}
	if len(l.pending) == 0 {
		return
	}
	if len(l.pending) < l.cfg.BatchSize && l.pendingBytes < l.cfg.BatchBytes && now.Sub(l.pendingSince) < l.cfg.BatchTimeout {
		return
	}
	l.send(&job{msgs: l.takeBatch()}, now)
}

// takeBatch removes the first BatchSize events (within BatchBytes) from pending.
func (l *loop) takeBatch() []kafka.Message {
	n, size := 0, int64(0)
	for n < len(l.pending) && n < l.cfg.BatchSize {
		s := int64(len(l.pending[n].Key) + len(l.pending[n].Value) + msgOverhead)
		if n > 0 && size+s > l.cfg.BatchBytes {
			break
		}
		size += s
		n++
	}
	batch := l.pending[:n:n]
	l.pending = l.pending[n:]
	l.pendingBytes -= size
	if len(l.pending) == 0 {
		l.pending, l.pendingBytes = nil, 0
	} else {
		l.pendingSince = l.now()
	}
	return batch
}

// readSpool reads the next replay batch, or returns nil (leaving spool mode when the
// spool turns out to be empty).
func (l *loop) readSpool() *job {
	recs, end, err := l.sp.next(l.cfg.BatchSize, l.cfg.BatchBytes)
	if n := l.sp.corrupt - l.corrupt; n > 0 {
		l.corrupt = l.sp.corrupt
		l.c.dropped[dropSpoolCorrupt].Add(n)
	}
	if err != nil {
		l.log.Error("emitter: reading the spool failed; will retry", "err", err)
		l.retryAt = l.now().Add(l.cfg.BackoffMax)
		return nil
	}
	if len(recs) == 0 {
		// Everything read so far is acknowledged (no retry is pending when we get here),
		// so whatever the read skipped can go too.
		if err := l.sp.commit(end); err != nil {
			l.log.Error("emitter: spool cleanup failed", "err", err)
		}
		l.publishSpool()
		if l.sp.empty() {
			l.setSpooling(false)
		} else {
			l.retryAt = l.now().Add(l.cfg.BackoffMax)
		}
		return nil
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: r.key, Value: r.value}
		if len(r.key) == 0 {
			msgs[i].Key = nil
		}
	}
	return &job{msgs: msgs, replay: true, end: end}
}

func (l *loop) send(j *job, now time.Time) {
	j.start = now
	l.busy = j
	l.snd.jobs <- j
}

// finish handles the sender's answer for the job out.
func (l *loop) finish(r result) {
	j := r.job
	l.busy = nil
	if j.abandoned {
		return
	}
	bad := failed(j.msgs, r.err)
	ok := uint64(len(j.msgs) - len(bad))
	if !j.replay {
		l.c.sent.Add(ok)
		if len(bad) > 0 {
			l.enterSpooling(bad, "produce failed", r.err)
		}
		return
	}
	l.c.replayed.Add(ok)
	if len(bad) > 0 {
		j.msgs = bad
		l.retry = j
		l.replayFailed(r.err)
		return
	}
	if l.failures > 0 {
		l.log.Info("emitter: Kafka reachable again, replaying the spool", "failed_attempts", l.failures)
		l.failures = 0
	}
	l.backoff, l.retryAt = 0, time.Time{}
	if err := l.sp.commit(j.end); err != nil {
		l.log.Error("emitter: spool cleanup failed", "err", err)
	}
	l.publishSpool()
	if l.sp.empty() {
		l.setSpooling(false)
	}
}

func (l *loop) replayFailed(err error) {
	now := l.now()
	l.failures++
	l.backoff = min(max(2*l.backoff, l.cfg.BackoffMin), l.cfg.BackoffMax)
	l.retryAt = now.Add(l.backoff)
	if l.failures == 1 || now.Sub(l.lastFail) >= l.cfg.DropLogInterval {
		l.lastFail = now
		l.log.Warn("emitter: Kafka still unreachable, events stay in the spool",
			"err", summary(err), "attempts", l.failures, "next_try_in", l.backoff, "spool_bytes", l.sp.bytes())
	}
}

// checkStall sends a direct batch that Kafka has not answered within StallTimeout to the
// spool, with everything behind it, so the queue keeps draining while the write hangs.
func (l *loop) checkStall() {
	j := l.busy
	if j == nil || j.replay || j.abandoned || l.now().Sub(j.start) < l.cfg.StallTimeout {
		return
	}
	j.abandoned = true
	l.enterSpooling(j.msgs, "produce stalled", errors.New("no answer within StallTimeout"))
}

// enterSpooling spools msgs and then the pending batch, in that order, and switches the
// loop to spool mode.
func (l *loop) enterSpooling(msgs []kafka.Message, why string, err error) {
	if !l.spooling {
		l.log.Warn("emitter: Kafka unreachable, spooling events to disk", "why", why, "err", summary(err), "dir", l.cfg.SpoolDir)
		l.setSpooling(true)
		l.backoff = l.cfg.BackoffMin
		l.retryAt = l.now().Add(l.backoff)
	}
	l.spoolMsgs(msgs)
	l.spoolMsgs(l.pending)
	l.pending, l.pendingBytes = nil, 0
	l.flushSpool()
}

func (l *loop) setSpooling(on bool) {
	if l.spooling && !on {
		l.log.Info("emitter: spool replayed, sending directly again", "replayed_total", l.c.replayed.Load())
	}
	l.spooling = on
	l.c.spooling.Store(on)
}

func (l *loop) spoolMsgs(msgs []kafka.Message) {
	for _, m := range msgs {
		err := l.sp.append(m.Key, m.Value)
		switch {
		case err == nil:
			l.c.spooled.Add(1)
		case errors.Is(err, errSpoolFull):
			l.c.dropped[dropSpoolFull].Add(1)
		default:
			// A disk error loses the event like a full spool would; the drop report counts it,
			// and the cause is logged at most once per DropLogInterval.
			l.c.dropped[dropSpoolFull].Add(1)
			if now := l.now(); now.Sub(l.lastDiskErr) >= l.cfg.DropLogInterval {
				l.lastDiskErr = now
				l.log.Error("emitter: spool append failed, event dropped", "err", err)
			}
		}
	}
}

func (l *loop) flushSpool() {
	if err := l.sp.flush(); err != nil {
		l.log.Error("emitter: spool write failed", "err", err)
	}
	l.publishSpool()
}

func (l *loop) publishSpool() { l.c.spoolBytes.Store(l.sp.bytes()) }

// housekeeping runs every second: fsync the spool and report drops.
func (l *loop) housekeeping() {
	if err := l.sp.sync(); err != nil {
		l.log.Error("emitter: spool sync failed", "err", err)
	}
	l.publishSpool()
	l.logDrops(false)
}

// logDrops reports events dropped since the last report, at most once per
// DropLogInterval unless forced.
func (l *loop) logDrops(force bool) {
	now := l.now()
	if !force && now.Sub(l.lastDropLog) < l.cfg.DropLogInterval {
		return
	}
	var attrs []any
	for i, r := range dropReasons {
		n := l.c.dropped[i].Load()
		if d := n - l.loggedDrops[i]; d > 0 {
			attrs = append(attrs, slog.Uint64(r, d))
			l.loggedDrops[i] = n
		}
	}
	if len(attrs) == 0 {
		return
	}
	l.lastDropLog = now
	attrs = append(attrs, "spool_bytes", l.sp.bytes(), "spool_max_bytes", l.cfg.SpoolMaxBytes, "queue_size", l.cfg.QueueSize)
	l.log.Error("emitter: request-log events DROPPED since the last report", attrs...)
}

// shutdown drains the queue, sends what it can before ctx ends and spools the rest.
func (l *loop) shutdown(ctx context.Context) error {
	lossBefore := l.c.dropped[dropSpoolFull].Load() + l.c.dropped[dropEncode].Load()
drain:
	for {
		select {
		case ev := <-l.queue:
			l.accept(ev)
		default:
			break drain
		}
	}
	for l.busy != nil || (!l.spooling && len(l.pending) > 0) {
		if l.busy == nil {
			l.send(&job{msgs: l.takeBatch()}, l.now())
		}
		select {
		case r := <-l.snd.results:
			l.finish(r)
		case <-ctx.Done():
			if j := l.busy; j != nil && !j.replay && !j.abandoned {
				j.abandoned = true
				l.enterSpooling(j.msgs, "shutdown deadline", ctx.Err())
			} else {
				l.enterSpooling(nil, "shutdown deadline", ctx.Err())
			}
			l.busy = nil
		}
	}
	l.logDrops(true)
	var errs []error
	if err := l.sp.close(); err != nil {
		errs = append(errs, err)
	}
	if err := l.snd.close(ctx); err != nil {
		errs = append(errs, errors.New("emitter: Kafka writer did not close: "+err.Error()))
	}
	if lost := l.c.dropped[dropSpoolFull].Load() + l.c.dropped[dropEncode].Load() - lossBefore; lost > 0 {
		errs = append(errs, errors.New("emitter: events dropped during shutdown (see the log)"))
	}
	return errors.Join(errs...)
}
