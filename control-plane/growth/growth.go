// Package growth owns the platform admins' growth metrics (GET /v1/admin/growth): signups,
// activations and the activation rate per interval, the onboarding funnel by milestone
// with step-to-step conversion and median time between steps, time to first call,
// weekly and monthly active partners, live revenue and sandbox volume kept apart, and a
// weekly cohort retention table, every figure split by referral source and by weekly
// signup cohort, as JSON or as CSV one table at a time.
//
// Signups, referral sources and milestones come from PostgreSQL (partners,
// onboarding_milestones: partner_id, milestone, reached_at only); activity and orders
// from ClickHouse through analytics/growthquery, per partner, so that this package can
// split them by the partner's source and cohort. Every figure is computed here from those
// rows, so it is reproducible from the raw rows (the package's test does so
// independently).
package growth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/analytics/growthquery"
)

// Milestones are the onboarding milestones in funnel order; FirstLiveOrder means
// activated. SignedUp is read from partners.created_at, every other from
// onboarding_milestones.
var Milestones = []string{
	SignedUp, "first_key", FirstSandboxCall, "first_sandbox_order", "first_webhook_delivered",
	"live_requested", "live_approved", "first_live_key", "first_live_call", FirstLiveOrder,
}

// Milestones the figures single out.
const (
	// SignedUp is the first step: the partner's signup (partners.created_at).
	SignedUp = "signed_up"
	// FirstSandboxCall is the first 2xx call with a test key (the end of TTFC).
	FirstSandboxCall = "first_sandbox_call"
	// FirstLiveOrder is the first live order: the partner is activated.
	FirstLiveOrder = "first_live_order"
)

// Warehouse answers the ClickHouse side (growthquery.Store does), per (source, cohort)
// cell of the report's partners.
type Warehouse interface {
	// ActivePartners counts the partners with a 2xx request per bucket of period in [from, to).
	ActivePartners(ctx context.Context, segments []growthquery.Segment, period string, from, to time.Time) ([]growthquery.Active, error)
	// Orders sums the live revenue and sandbox volume per bucket of interval in [from, to).
	Orders(ctx context.Context, segments []growthquery.Segment, interval string, from, to time.Time) ([]growthquery.Order, error)
}

// Config is what the Service needs.
type Config struct {
	// Pool is the control plane's PostgreSQL (required).
	Pool *pgxpool.Pool
	// Warehouse reads ClickHouse (required).
	Warehouse Warehouse
	// Logger logs failed reads (required).
	Logger *slog.Logger
}

// Service computes growth reports.
type Service struct {
	pool *pgxpool.Pool
	wh   Warehouse
	log  *slog.Logger
}

// New returns a Service once its dependencies are given.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Warehouse == nil || cfg.Logger == nil {
		return nil, errors.New("growth: Config.Pool, Config.Warehouse and Config.Logger are required")
	}
	return &Service{pool: cfg.Pool, wh: cfg.Warehouse, log: cfg.Logger}, nil
}
