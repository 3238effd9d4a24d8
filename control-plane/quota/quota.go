// Package quota owns the control plane's per-tenant rate limits: a fixed window per
// partner and action (console test orders, webhook test sends), counted in PostgreSQL with
// one atomic upsert, so a limit holds however many requests race for its last slot and
// however many control-plane replicas serve them. A refusal is a 429 problem with the
// limit's own code and Retry-After.
package quota

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/pgdb"
)

// Rate is a number of requests per window.
type Rate struct {
	// Requests is how many are allowed in each window; zero or less is no limit.
	Requests int
	// Per is the window's length.
	Per time.Duration
}

// Config configures one Limiter.
type Config struct {
	// DB is the control plane's database (required): a pool, or the caller's transaction
	// passed to Take.
	DB pgdb.DB
	// Action names what is counted, one row per partner and action (required).
	Action string
	// Rate is the limit; a Requests of zero or less lets everything through.
	Rate Rate
	// Code is the problem code of a refusal (required).
	Code string
	// What says, in a refusal's detail, what ran out ("console test orders").
	What string
	// Clock gives the time; time.Now when nil.
	Clock func() time.Time
}

// Limiter counts one action per partner in fixed windows.
type Limiter struct {
	cfg Config
}

// New checks cfg and returns the Limiter.
func New(cfg Config) (*Limiter, error) {
	var errs []error
	if cfg.DB == nil {
		errs = append(errs, errors.New("quota: Config.DB is required"))
	}
	if cfg.Action == "" || cfg.Code == "" || cfg.What == "" {
		errs = append(errs, errors.New("quota: Config.Action, Code and What are required"))
	}
	if cfg.Rate.Requests > 0 && cfg.Rate.Per <= 0 {
		errs = append(errs, errors.New("quota: Config.Rate.Per must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Limiter{cfg: cfg}, nil
}

// takeSQL counts one request of partner $1 for action $2 at $3 and returns the window's
// start and count. A window that started at or before $4 (now less the window's length) is
// over: the request opens a new one. The count stops at the limit $5 plus one, so refused
// requests do not grow it; a returned count above the limit is a refusal. ON CONFLICT DO
// UPDATE locks the row, so racing requests count one after another, each seeing the
// previous count.
const takeSQL = `INSERT INTO tenant_rate_windows AS w (partner_id, action, window_start, used)
VALUES ($1, $2, $3, 1)
ON CONFLICT (partner_id, action) DO UPDATE SET
    window_start = CASE WHEN w.window_start <= $4 THEN $3 ELSE w.window_start END,
    used = CASE WHEN w.window_start <= $4 THEN 1 ELSE least(w.used + 1, $5 + 1) END
RETURNING window_start, used`

// Take counts one request of partnerID and returns nil when it is within the limit, or a
// fault.ErrRateLimited error with the limiter's code and Retry-After. With db (a
// transaction) the count commits or rolls back with the caller's work; nil uses Config.DB.
func (l *Limiter) Take(ctx context.Context, db pgdb.DB, partnerID string) error {
	r := l.cfg.Rate
	if r.Requests <= 0 {
		return nil
	}
	if db == nil {
		db = l.cfg.DB
	}
	now := l.cfg.Clock()
	var (
		start time.Time
		used  int
	)
	if err := db.QueryRow(ctx, takeSQL, partnerID, l.cfg.Action, now, now.Add(-r.Per), r.Requests).Scan(&start, &used); err != nil {
		return fmt.Errorf("quota: count %s: %w", l.cfg.Action, err)
	}
	if used <= r.Requests {
		return nil
	}
	wait := min(max(start.Add(r.Per).Sub(now), time.Second), r.Per)
	return &fault.Error{Kind: fault.ErrRateLimited, Code: l.cfg.Code, RetryAfter: wait,
		Message: fmt.Sprintf("too many %s: %d per %s are allowed for each partner; try again in %s",
			l.cfg.What, r.Requests, short(r.Per), short(wait.Round(time.Second)))}
}

// short writes a duration without its empty trailing units: 1m, 1h, 1m30s.
func short(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "m0s")
	if len(s) < len(d.String()) {
		s += "m"
	}
	if t := strings.TrimSuffix(s, "h0m"); len(t) < len(s) {
		s = t + "h"
	}
	return s
}
