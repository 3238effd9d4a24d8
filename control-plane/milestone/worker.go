package milestone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
)

// DefaultWorkerConcurrency is how many milestone_reached jobs one process works at once.
const DefaultWorkerConcurrency = 10

// WorkerConfig configures the milestone_reached Worker.
type WorkerConfig struct {
	// Logger (required).
	Logger *slog.Logger
	// Registerer receives steller_milestones_reached_total; nil keeps it unregistered.
	Registerer prometheus.Registerer
}

// Worker works milestone_reached jobs: the seam where later features (referral rewards,
// re-engagement) react to a partner reaching a milestone. Today it counts the milestone
// in steller_milestones_reached_total{milestone} and logs it. It is idempotent: it
// changes no stored state, so River running a job twice (after a crash) repeats only a
// log line, and features added here must keep that property (key their effects by
// partner and milestone).
type Worker struct {
	river.WorkerDefaults[ReachedArgs]
	log     *slog.Logger
	reached *prometheus.CounterVec
}

// NewWorker checks cfg, registers the counter and returns the Worker.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Logger == nil {
		return nil, errors.New("milestone.NewWorker: Logger is required")
	}
	w := &Worker{log: cfg.Logger, reached: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "steller", Subsystem: "milestones", Name: "reached_total",
		Help: "milestone_reached jobs worked, by milestone (each milestone is reached once per partner).",
	}, []string{"milestone"})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(w.reached); err != nil {
			return nil, fmt.Errorf("milestone: register metrics: %w", err)
		}
	}
	return w, nil
}

// Register adds w to a River client's workers; the client must also work QueueName
// (QueueConfig).
func (w *Worker) Register(workers *river.Workers) error {
	return river.AddWorkerSafely(workers, w)
}

// QueueConfig is the River queue w's jobs run on.
func QueueConfig(concurrency int) map[string]river.QueueConfig {
	if concurrency <= 0 {
		concurrency = DefaultWorkerConcurrency
	}
	return map[string]river.QueueConfig{QueueName: {MaxWorkers: concurrency}}
}

// Timeout bounds one job: counting and logging take microseconds.
func (w *Worker) Timeout(*river.Job[ReachedArgs]) time.Duration { return 30 * time.Second }

// Work counts and logs the milestone.
func (w *Worker) Work(ctx context.Context, job *river.Job[ReachedArgs]) error {
	r := job.Args.Reached
	w.reached.WithLabelValues(string(r.Milestone)).Inc()
	w.log.InfoContext(ctx, "milestone reached", "partner_id", r.PartnerID, "milestone", r.Milestone,
		"at", r.At, "event_id", r.EventID, "source", r.Source, "attempt", job.Attempt)
	return nil
}
