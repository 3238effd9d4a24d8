package sandbox

import (
	"context"
	"errors"
	"time"
)

// pruneEvery is how often the outbox loop deletes old sent events.
const pruneEvery = time.Hour

// runWorker finishes due orders until ctx ends: a full batch is followed at once by the
// next, otherwise it waits PollInterval; a database error backs off.
func (v *Vendor) runWorker(ctx context.Context) {
	var wait time.Duration
	for ctx.Err() == nil {
		n, err := v.finishDue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			wait = v.backoff(wait)
			v.logger.Warn("sandbox: finishing orders failed; retrying", "err", err, "retry_in", wait)
			if !sleep(ctx, wait, nil) {
				return
			}
			continue
		case n > 0:
			v.nudge()
		}
		wait = 0
		if n < v.cfg.BatchSize && !sleep(ctx, v.cfg.PollInterval, nil) {
			return
		}
	}
}

// runOutbox publishes the outbox until ctx ends. It wakes on a nudge after a commit, or
// every PollInterval (events written by other processes); while publishing fails it backs
// off and leaves the events in the outbox, so nothing is lost while Kafka is away.
func (v *Vendor) runOutbox(ctx context.Context) {
	var wait time.Duration
	lastPrune := time.Time{}
	for ctx.Err() == nil {
		if now := time.Now(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			if err := v.pruneOutbox(ctx); err != nil && ctx.Err() == nil {
				v.logger.Warn("sandbox: pruning the outbox failed", "err", err)
			}
		}
		n, err := v.publishOnce(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			wait = v.backoff(wait)
			v.logger.Warn("sandbox: publishing order events failed; they stay in the outbox", "err", err, "retry_in", wait)
			if !sleep(ctx, wait, nil) {
				return
			}
			continue
		}
		if wait > 0 {
			v.logger.Info("sandbox: publishing order events recovered")
		}
		wait = 0
		if n < v.cfg.BatchSize && !sleep(ctx, v.cfg.PollInterval, v.kick) {
			return
		}
	}
}
