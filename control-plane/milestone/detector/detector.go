// Package detector owns the milestone detector: the consumers that read what partners
// actually do at the edge (request-log events) and in orders (order events), each with its
// own Kafka consumer group, separate from the ingest's, and record first_sandbox_call,
// first_live_call, first_sandbox_order and first_live_order through milestone.Record with
// the event's own time and id.
//
// What counts: a request-log event allowed by the edge (decision allow) and answered 2xx,
// with environment test (first_sandbox_call) or live (first_live_call), identified by its
// request id; an order event of type order.completed (the gift card exists) in
// environment test (first_sandbox_order) or live (first_live_order), identified by its
// event id. order.created does not count, because an order that then fails delivered
// nothing; order.failed never counts.
//
// Delivery is at least once: a batch's milestones are written to PostgreSQL in one
// transaction, and only then are its offsets committed; while PostgreSQL fails the same
// batch is retried with capped backoff and nothing is committed. Replays change nothing
// (a milestone is reached once). Each stream keeps the set of partners that already
// reached its milestones in memory (loaded at start), so their events cost no database
// round trip. Messages that cannot be decoded are skipped and counted (the ingest
// dead-letters the same messages, so the detector writes no second copy); events of
// partners the control plane does not know are skipped and counted too.
package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/control-plane/milestone"
)

// Defaults for the zero values of Config.
const (
	// DefaultRequestGroup is the consumer group of the request-log stream.
	DefaultRequestGroup = "steller-milestones-requests"
	// DefaultOrderGroup is the consumer group of the order-event stream.
	DefaultOrderGroup     = "steller-milestones-orders"
	DefaultBatchSize      = 10_000
	DefaultFlushInterval  = 500 * time.Millisecond
	DefaultRetryMin       = 200 * time.Millisecond
	DefaultRetryMax       = 30 * time.Second
	DefaultSessionTimeout = 30 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
)

// Config configures a Detector. Zero values take the defaults above.
type Config struct {
	// Brokers are the Kafka bootstrap addresses (required).
	Brokers []string
	// RequestLogTopic and OrderEventTopic are the streams read; default topic.RequestLogs
	// and topic.OrderEvents.
	RequestLogTopic, OrderEventTopic string
	// RequestGroup and OrderGroup are the streams' consumer groups: every detector of a
	// deployment shares them, and they must differ from the ingest's and each other.
	RequestGroup, OrderGroup string
	// Pool is the control-plane database (required).
	Pool *pgxpool.Pool
	// Jobs inserts the milestone_reached jobs in the recording transaction, all of a
	// batch in one statement (the control plane's River client; required).
	Jobs milestone.BatchInserter
	// BatchSize is the most messages per PostgreSQL transaction and offset commit.
	BatchSize int
	// FlushInterval is the longest a message waits for its batch to fill.
	FlushInterval time.Duration
	// RetryMin and RetryMax bound the backoff while PostgreSQL (or Kafka) fails.
	RetryMin, RetryMax time.Duration
	// WriteTimeout bounds one write attempt.
	WriteTimeout time.Duration
	// SessionTimeout is the consumer-group session timeout.
	SessionTimeout time.Duration
	// Registerer receives the metrics (namespace steller_milestone_detector); nil keeps
	// them unregistered.
	Registerer prometheus.Registerer
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (cfg Config) withDefaults() (Config, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("detector: Brokers are required"))
	}
	if cfg.Pool == nil {
		errs = append(errs, errors.New("detector: Pool is required"))
	}
	if cfg.Jobs == nil {
		errs = append(errs, errors.New("detector: Jobs (the River client) is required"))
	}
	if cfg.BatchSize < 0 || cfg.FlushInterval < 0 || cfg.RetryMin < 0 || cfg.RetryMax < 0 || cfg.WriteTimeout < 0 || cfg.SessionTimeout < 0 {
		errs = append(errs, errors.New("detector: sizes and durations must not be negative"))
	}
	str := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	str(&cfg.RequestLogTopic, topic.RequestLogs)
	str(&cfg.OrderEventTopic, topic.OrderEvents)
	str(&cfg.RequestGroup, DefaultRequestGroup)
	str(&cfg.OrderGroup, DefaultOrderGroup)
	if cfg.RequestGroup == cfg.OrderGroup {
		errs = append(errs, fmt.Errorf("detector: the two streams need two consumer groups, both are %q", cfg.RequestGroup))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, err
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	dur(&cfg.FlushInterval, DefaultFlushInterval)
	dur(&cfg.RetryMin, DefaultRetryMin)
	dur(&cfg.RetryMax, DefaultRetryMax)
	dur(&cfg.WriteTimeout, DefaultWriteTimeout)
	dur(&cfg.SessionTimeout, DefaultSessionTimeout)
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// Detector runs the two streams' consumers.
type Detector struct {
	cfg      Config
	requests *stream
	orders   *stream
}

// New validates cfg and registers the metrics; Run connects.
func New(cfg Config) (*Detector, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Detector{
		cfg:      cfg,
		requests: newStream(cfg, m, requestStream, cfg.RequestLogTopic, cfg.RequestGroup),
		orders:   newStream(cfg, m, orderStream, cfg.OrderEventTopic, cfg.OrderGroup),
	}, nil
}

// Run consumes both streams until ctx ends or one of them cannot start (the reached set
// cannot be loaded); a batch not yet written when ctx ends is not committed, so it is
// read again on the next start.
func (d *Detector) Run(ctx context.Context) error {
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return d.requests.run(ctx) })
	group.Go(func() error { return d.orders.run(ctx) })
	err := group.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
