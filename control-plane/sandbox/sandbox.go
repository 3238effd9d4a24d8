// Package sandbox owns the sandbox gift-card vendor: the upstream that test keys reach
// through the edge. It serves a fixed catalog, takes idempotent orders paid from each
// partner's fake USD balance (sandbox_accounts), finishes them asynchronously (completed
// with a deterministic fake card, or failed and refunded, as the documented magic values
// say), and publishes every order state change as an order event through a transactional
// outbox. It serves only requests whose identity headers carry a valid edge signature
// (contract/edgesign), so reaching its port is not enough to act as a partner. README.md
// documents the API and the magic values.
//
// The same code in ModeLive is the live vendor stand-in that local runs put behind live
// keys in place of the production gift-card API: its own tables (live_orders,
// live_order_outbox), live keys only, no balance and no magic values, and order events
// with environment live on the same topic (README.md, "Live mode").
package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
)

// Defaults for the zero values of Config.
const (
	DefaultCompletionDelay = 2 * time.Second
	DefaultTimeoutDelay    = 10 * time.Second
	DefaultPollInterval    = 100 * time.Millisecond
	DefaultBatchSize       = 100
	DefaultRetryMin        = 200 * time.Millisecond
	DefaultRetryMax        = 30 * time.Second
	DefaultOutboxRetention = 24 * time.Hour
)

// Publisher sends order events and returns nil only once they are durably accepted
// (orderevent.Publisher does, on Kafka).
type Publisher interface {
	// Publish sends the events in order.
	Publish(ctx context.Context, events ...orderevent.Event) error
}

// Config configures a Vendor.
type Config struct {
	// Mode is ModeSandbox (the zero value) or ModeLive.
	Mode Mode
	// Pool is the control plane's database, migrated (required): sandbox_accounts,
	// sandbox_orders and sandbox_order_outbox live there, and the live mode's live_orders
	// and live_order_outbox.
	Pool *pgxpool.Pool
	// Publisher receives the order events drained from the outbox (required; usually an
	// *orderevent.Publisher on topic steller.order-events.v1).
	Publisher Publisher
	// Verifier checks the edge's signature over the identity of every request (required):
	// unsigned, stale and tampered requests are refused before anything else.
	Verifier *edgesign.Verifier
	// Logger receives operational logs; default discards.
	Logger *slog.Logger
	// Clock is the time source; default time.Now. Due times and event times come from it.
	Clock func() time.Time
	// CompletionDelay is how long an order stays pending before it completes (or, in the
	// sandbox, fails with vendor_out_of_stock); default DefaultCompletionDelay.
	CompletionDelay time.Duration
	// TimeoutDelay is how long an order with the vendor_timeout magic amount stays pending
	// (sandbox only); default DefaultTimeoutDelay.
	TimeoutDelay time.Duration
	// PollInterval is how often the worker looks for due orders and the publisher for
	// unsent events; default DefaultPollInterval.
	PollInterval time.Duration
	// BatchSize bounds the orders finished and the events published per round; default
	// DefaultBatchSize.
	BatchSize int
	// RetryMin and RetryMax bound the backoff while publishing or the database fails.
	RetryMin, RetryMax time.Duration
	// OutboxRetention is how long sent events stay in the outbox (for inspection) before
	// they are deleted; default DefaultOutboxRetention.
	OutboxRetention time.Duration
}

// Vendor is the sandbox gift-card vendor, or in ModeLive the live vendor stand-in: Handler
// serves the API, Run finishes orders and publishes events. Several processes may share one database: the worker claims orders
// with FOR UPDATE SKIP LOCKED and one publisher at a time drains the outbox.
type Vendor struct {
	pool      *pgxpool.Pool
	publisher Publisher
	logger    *slog.Logger
	clock     func() time.Time
	cfg       Config
	mode      modeSpec
	// kick wakes the outbox publisher after a commit that wrote events, so events do not
	// wait for the next poll.
	kick chan struct{}
	mux  http.Handler
	once sync.Once
}

// New checks cfg and builds a Vendor.
func New(cfg Config) (*Vendor, error) {
	var errs []error
	mode, err := specOf(cfg.Mode)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.Pool == nil {
		errs = append(errs, errors.New("sandbox: Pool is required"))
	}
	if cfg.Publisher == nil {
		errs = append(errs, errors.New("sandbox: Publisher is required"))
	}
	if cfg.Verifier == nil {
		errs = append(errs, errors.New("sandbox: Verifier is required (the edge signing secrets)"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"CompletionDelay", cfg.CompletionDelay}, {"TimeoutDelay", cfg.TimeoutDelay}, {"PollInterval", cfg.PollInterval}, {"RetryMin", cfg.RetryMin}, {"RetryMax", cfg.RetryMax}, {"OutboxRetention", cfg.OutboxRetention}} {
		if d.v < 0 {
			errs = append(errs, errors.New("sandbox: "+d.name+" must not be negative"))
		}
	}
	if cfg.BatchSize < 0 {
		errs = append(errs, errors.New("sandbox: BatchSize must not be negative"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.CompletionDelay = orDefault(cfg.CompletionDelay, DefaultCompletionDelay)
	cfg.TimeoutDelay = orDefault(cfg.TimeoutDelay, DefaultTimeoutDelay)
	cfg.PollInterval = orDefault(cfg.PollInterval, DefaultPollInterval)
	cfg.RetryMin = orDefault(cfg.RetryMin, DefaultRetryMin)
	cfg.RetryMax = max(orDefault(cfg.RetryMax, DefaultRetryMax), cfg.RetryMin)
	cfg.OutboxRetention = orDefault(cfg.OutboxRetention, DefaultOutboxRetention)
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	v := &Vendor{
		pool:      cfg.Pool,
		publisher: cfg.Publisher,
		logger:    cfg.Logger,
		clock:     cfg.Clock,
		cfg:       cfg,
		mode:      mode,
		kick:      make(chan struct{}, 1),
	}
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// now is the clock truncated to PostgreSQL's precision, so a time returned to a caller
// equals the same time read back later.
func (v *Vendor) now() time.Time { return v.clock().UTC().Truncate(time.Microsecond) }

// Handler returns the vendor's HTTP API (the paths of README.md). Every answer carries
// the edge's request id back as X-Request-Id, so a client behind any edge host (Kong
// included, which does not copy it) can quote it.
func (v *Vendor) Handler() http.Handler {
	v.once.Do(func() {
		routes := v.routes()
		v.mux = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := r.Header.Get(identity.HeaderRequestID); identity.ValidClientRequestID(id) {
				w.Header().Set(identity.HeaderRequestID, id)
			}
			routes.ServeHTTP(w, r)
		})
	})
	return v.mux
}

// Run finishes due orders and publishes the outbox until ctx ends; it returns nil then.
// It is safe to run in several processes at once, and to restart at any time: the state
// lives in the database.
func (v *Vendor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { v.runWorker(ctx) })
	wg.Go(func() { v.runOutbox(ctx) })
	wg.Wait()
	return nil
}

// nudge wakes the outbox publisher without blocking.
func (v *Vendor) nudge() {
	select {
	case v.kick <- struct{}{}:
	default:
	}
}

// backoff doubles d within the configured bounds.
func (v *Vendor) backoff(d time.Duration) time.Duration {
	if d == 0 {
		return v.cfg.RetryMin
	}
	return min(2*d, v.cfg.RetryMax)
}

// sleep waits d, or until ctx ends (false) or, when wake is not nil, until it fires.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
