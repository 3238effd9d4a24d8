// Package periodic owns the one loop Steller's background chores share: run now, then
// every interval until the context ends, logging a failed run and trying again at the next
// tick instead of stopping.
package periodic

import (
	"context"
	"log/slog"
	"time"
)

// Run calls once now and then every interval until ctx ends. A failed run is logged as
// msg (with the error) and tried again at the next tick; Run returns nil when ctx ends.
// interval must be positive.
func Run(ctx context.Context, interval time.Duration, logger *slog.Logger, msg string, once func(context.Context) error) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := once(ctx); err != nil && ctx.Err() == nil {
			logger.Error(msg, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
