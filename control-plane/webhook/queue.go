package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/steller/platform/control-plane/milestone"
)

// MigrateQueue creates or upgrades River's own tables (river_job, ...) in pool's database;
// `steller migrate` runs it after the goose migrations.
func MigrateQueue(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("webhook: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("webhook: river migrate: %w", err)
	}
	return nil
}

// ClientConfig configures the River client deliveries run on.
type ClientConfig struct {
	// Pool is the control-plane database (required).
	Pool *pgxpool.Pool
	// Logger (required).
	Logger *slog.Logger
	// Worker runs deliveries; nil makes an insert-only client (an API-only process).
	Worker *Worker
	// Milestones works milestone_reached jobs on the same client (queue
	// milestone.QueueName): River refuses to insert a kind no worker is registered for on
	// a client with workers, and deliveries record first_webhook_delivered, so a client
	// that delivers always carries one. Nil with Worker set: a worker that only logs (and
	// counts nowhere). Ignored without Worker.
	Milestones *milestone.Worker
	// Concurrency is how many deliveries run at once; 100 when zero.
	Concurrency int
	// FetchCooldown is River's minimum wait between fetches; 20 ms when zero.
	FetchCooldown time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before River's rescuer
	// takes it for the job of a dead process and retries it. When zero, twice the
	// worker's job timeout plus a minute: 2 min with DeliveryTimeout, as before this
	// option. It may not be shorter than the job timeout (Worker.Timeout).
	RescueStuckJobsAfter time.Duration
}

// NewClient returns the control plane's River client: webhook deliveries and
// milestone_reached jobs (one client, so every kind the process inserts has its worker);
// the caller Starts and Stops it.
func NewClient(cfg ClientConfig) (*river.Client[pgx.Tx], error) {
	if cfg.Pool == nil || cfg.Logger == nil {
		return nil, errors.New("webhook.NewClient: Pool and Logger are required")
	}
	rc := &river.Config{Logger: cfg.Logger, MaxAttempts: MaxAttempts}
	if cfg.Worker != nil {
		if cfg.Concurrency <= 0 {
			cfg.Concurrency = 100
		}
		if cfg.FetchCooldown <= 0 {
			cfg.FetchCooldown = 20 * time.Millisecond
		}
		workers := river.NewWorkers()
		if err := river.AddWorkerSafely(workers, cfg.Worker); err != nil {
			return nil, fmt.Errorf("webhook: add worker: %w", err)
		}
		if cfg.Milestones == nil {
			var err error
			if cfg.Milestones, err = milestone.NewWorker(milestone.WorkerConfig{Logger: cfg.Logger}); err != nil {
				return nil, err
			}
		}
		if err := cfg.Milestones.Register(workers); err != nil {
			return nil, fmt.Errorf("webhook: add milestone worker: %w", err)
		}
		rc.Workers = workers
		rc.Queues = milestone.QueueConfig(0)
		rc.Queues[QueueName] = river.QueueConfig{MaxWorkers: cfg.Concurrency}
		rc.FetchCooldown = cfg.FetchCooldown
		rc.FetchPollInterval = time.Second
		// River refuses a RescueStuckJobsAfter shorter than the client's JobTimeout (one
		// minute by default), which these jobs never use: each runs under Worker.Timeout.
		// Setting JobTimeout to it lets a short rescue delay (tests) pass River's check
		// against the timeout that matters; the rescuer waits for it too before it takes
		// a job.
		jobTimeout := cfg.Worker.Timeout(nil)
		rc.JobTimeout = jobTimeout
		// A delivery runs at most DeliveryTimeout plus its bookkeeping (Worker.Timeout); a
		// job still marked running well past that belongs to a process that died, and is
		// retried after minutes instead of River's default hour. The receiver may see that
		// attempt twice, with the same webhook-id.
		rc.RescueStuckJobsAfter = cfg.RescueStuckJobsAfter
		if rc.RescueStuckJobsAfter <= 0 {
			rc.RescueStuckJobsAfter = 2*jobTimeout + time.Minute
		}
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("webhook: river client: %w", err)
	}
	return client, nil
}
