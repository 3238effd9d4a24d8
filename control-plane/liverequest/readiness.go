package liverequest

import (
	"context"
	"fmt"
	"time"

	"github.com/steller/platform/analytics/readinessquery"
)

// Traffic reads a partner's sandbox traffic at the edge (a *readinessquery.Store).
type Traffic interface {
	// Traffic is partnerID's sandbox requests in [since, until).
	Traffic(ctx context.Context, partnerID string, since, until time.Time) (readinessquery.Traffic, error)
	// Retries is how partnerID retried its 429 and 5xx answers in [since, until).
	Retries(ctx context.Context, partnerID string, since, until time.Time) (readinessquery.Retries, error)
}

// Verdicts of a readiness check, worst last.
const (
	VerdictPass = "pass"
	VerdictWarn = "warn"
	VerdictFail = "fail"
	// VerdictUnknown: the data behind the check could not be read; Detail says why.
	VerdictUnknown = "unknown"
)

// Names of the readiness checks, in the report's order.
const (
	CheckIdempotency = "idempotency_keys"
	CheckWebhooks    = "webhook_endpoint"
	CheckAllowlist   = "ip_allowlist"
	CheckErrorRate   = "error_rate"
	CheckRetries     = "retry_backoff"
)

// Thresholds of the checks (README.md, "Go-live readiness", states them in words).
const (
	// IdempotencyWarnShare: at least this share of orders with a key is a warning, less fails.
	IdempotencyWarnShare = 0.90
	// WebhookPassShare and WebhookWarnShare: 2xx shares of the window's delivery attempts.
	WebhookPassShare, WebhookWarnShare = 0.95, 0.80
	// ErrorRatePass and ErrorRateWarn: error rates (4xx and 5xx over all requests) at or
	// under which the check passes or warns.
	ErrorRatePass, ErrorRateWarn = 0.05, 0.20
	// ImmediateRetryWarnShare: at most this share of immediate retries is a warning.
	ImmediateRetryWarnShare = 0.10
)

// Check is one readiness check's verdict with the figures behind it.
type Check struct {
	Name    string         `json:"name" example:"idempotency_keys"`
	Verdict string         `json:"verdict" enum:"pass,warn,fail,unknown"`
	Detail  string         `json:"detail" doc:"The verdict in a sentence."`
	Figures map[string]any `json:"figures" doc:"The counts and shares the verdict was computed from."`
	Doc     string         `json:"doc" doc:"The guide that explains how to fix it." example:"/docs/going-live#idempotency_keys"`
}

// Report is the go-live readiness report: the partner's own sandbox traffic at the edge in
// the window before GeneratedAt, judged check by check.
type Report struct {
	PartnerID   string    `json:"partner_id"`
	GeneratedAt time.Time `json:"generated_at"`
	WindowStart time.Time `json:"window_start"`
	// Verdict is the worst verdict of the checks (unknown counts as worse than warn, better
	// than fail).
	Verdict string  `json:"verdict" enum:"pass,warn,fail,unknown"`
	Checks  []Check `json:"checks"`
}

// CheckDoc is the guide of a check: the portal's idempotency guide, and the going-live
// guide's section of each other check (the onboarding's live steps link the same guide).
func CheckDoc(name string) string {
	if name == CheckIdempotency {
		return "/docs/idempotency"
	}
	return "/docs/going-live#" + name
}

const webhookSQL = `SELECT
  (SELECT count(*) FROM webhook_endpoints WHERE partner_id = $1 AND environment = 'test' AND enabled AND deleted_at IS NULL),
  count(a.id), count(a.id) FILTER (WHERE a.status_code BETWEEN 200 AND 299),
  (array_agg(a.status_code ORDER BY a.at DESC, a.id DESC))[1]
FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN webhook_endpoints e ON e.id = d.endpoint_id
WHERE d.partner_id = $1 AND e.environment = 'test' AND a.at >= $2 AND a.at < $3`

// Readiness computes partnerID's go-live readiness report now.
func (s *Service) Readiness(ctx context.Context, partnerID string) (Report, error) {
	now := s.cfg.Clock().UTC()
	since := now.Add(-readinessquery.Window)
	rep := Report{PartnerID: partnerID, GeneratedAt: now, WindowStart: since}

	var endpoints, attempts, ok int64
	var last *int32
	if err := s.cfg.Pool.QueryRow(ctx, webhookSQL, partnerID, since, now).Scan(&endpoints, &attempts, &ok, &last); err != nil {
		return Report{}, fmt.Errorf("liverequest: webhook health: %w", err)
	}
	traffic, terr := s.cfg.Traffic.Traffic(ctx, partnerID, since, now)
	retries, rerr := s.cfg.Traffic.Retries(ctx, partnerID, since, now)
	if terr != nil || rerr != nil {
		s.cfg.Logger.Warn("readiness: request logs unavailable", "partner_id", partnerID, "traffic", terr, "retries", rerr)
	}
	rep.Checks = []Check{
		orUnknown(terr, CheckIdempotency, func() Check { return idempotencyCheck(traffic) }),
		webhookCheck(endpoints, attempts, ok, last),
		orUnknown(terr, CheckAllowlist, func() Check { return allowlistCheck(traffic) }),
		orUnknown(terr, CheckErrorRate, func() Check { return errorRateCheck(traffic) }),
		orUnknown(rerr, CheckRetries, func() Check { return retryCheck(retries) }),
	}
	rep.Verdict = VerdictPass
	for _, c := range rep.Checks {
		if rank(c.Verdict) > rank(rep.Verdict) {
			rep.Verdict = c.Verdict
		}
	}
	return rep, nil
}

func rank(v string) int {
	switch v {
	case VerdictPass:
		return 0
	case VerdictWarn:
		return 1
	case VerdictUnknown:
		return 2
	}
	return 3
}

// orUnknown is check's result, or an unknown verdict when its data could not be read.
func orUnknown(err error, name string, check func() Check) Check {
	if err != nil {
		return Check{Name: name, Verdict: VerdictUnknown, Detail: "the request logs cannot be read right now; try again later",
			Figures: map[string]any{}, Doc: CheckDoc(name)}
	}
	return check()
}

func share(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

func idempotencyCheck(t readinessquery.Traffic) Check {
	c := Check{Name: CheckIdempotency, Doc: CheckDoc(CheckIdempotency), Figures: map[string]any{
		"orders": t.Orders, "orders_with_key": t.OrdersWithKey, "share": share(t.OrdersWithKey, t.Orders)}}
	switch {
	case t.Orders == 0:
		c.Verdict, c.Detail = VerdictFail, "no sandbox orders in the last 7 days: place orders with an Idempotency-Key first"
	case t.OrdersWithKey == t.Orders:
		c.Verdict, c.Detail = VerdictPass, "every order was sent with an Idempotency-Key"
	case share(t.OrdersWithKey, t.Orders) >= IdempotencyWarnShare:
		c.Verdict, c.Detail = VerdictWarn, fmt.Sprintf("%d of %d orders were sent without an Idempotency-Key", t.Orders-t.OrdersWithKey, t.Orders)
	default:
		c.Verdict, c.Detail = VerdictFail, fmt.Sprintf("%d of %d orders were sent without an Idempotency-Key: a retried order could be placed twice", t.Orders-t.OrdersWithKey, t.Orders)
	}
	return c
}

func webhookCheck(endpoints, attempts, ok int64, last *int32) Check {
	c := Check{Name: CheckWebhooks, Doc: CheckDoc(CheckWebhooks), Figures: map[string]any{
		"endpoints": endpoints, "attempts": attempts, "attempts_2xx": ok, "share_2xx": share(uint64(ok), uint64(attempts)), "last_status": last}}
	lastOK := last != nil && *last >= 200 && *last < 300
	okShare := share(uint64(ok), uint64(attempts))
	switch {
	case endpoints == 0:
		c.Verdict, c.Detail = VerdictFail, "no enabled sandbox webhook endpoint: add one to receive order events"
	case attempts == 0:
		c.Verdict, c.Detail = VerdictWarn, "no webhook deliveries in the last 7 days: place a sandbox order or send a test event"
	case !lastOK || okShare < WebhookWarnShare:
		c.Verdict, c.Detail = VerdictFail, fmt.Sprintf("%d of %d delivery attempts were answered 2xx, the latest was not", ok, attempts)
		if lastOK {
			c.Detail = fmt.Sprintf("only %d of %d delivery attempts were answered 2xx", ok, attempts)
		}
	case okShare < WebhookPassShare:
		c.Verdict, c.Detail = VerdictWarn, fmt.Sprintf("%d of %d delivery attempts were answered 2xx", ok, attempts)
	default:
		c.Verdict, c.Detail = VerdictPass, fmt.Sprintf("%d of %d delivery attempts were answered 2xx, the latest too", ok, attempts)
	}
	return c
}

func allowlistCheck(t readinessquery.Traffic) Check {
	c := Check{Name: CheckAllowlist, Doc: CheckDoc(CheckAllowlist), Figures: map[string]any{
		"denials": t.IPDenials, "keys": t.IPDeniedKeys, "addresses": t.IPDeniedAddresses}}
	if t.IPDenials == 0 {
		c.Verdict, c.Detail = VerdictPass, "no key was used from an address outside its allowlist"
		return c
	}
	c.Verdict = VerdictFail
	c.Detail = fmt.Sprintf("%d requests of %d keys came from %d addresses outside the key's allowlist (ip_not_allowed)",
		t.IPDenials, t.IPDeniedKeys, t.IPDeniedAddresses)
	return c
}

func errorRateCheck(t readinessquery.Traffic) Check {
	rate := share(t.ClientErrors+t.ServerErrors, t.Requests)
	c := Check{Name: CheckErrorRate, Doc: CheckDoc(CheckErrorRate), Figures: map[string]any{
		"requests": t.Requests, "client_errors": t.ClientErrors, "server_errors": t.ServerErrors, "error_rate": rate}}
	switch {
	case t.Requests == 0:
		c.Verdict, c.Detail = VerdictFail, "no sandbox requests in the last 7 days"
	case rate <= ErrorRatePass:
		c.Verdict, c.Detail = VerdictPass, fmt.Sprintf("%.1f%% of %d requests failed", 100*rate, t.Requests)
	case rate <= ErrorRateWarn:
		c.Verdict, c.Detail = VerdictWarn, fmt.Sprintf("%.1f%% of %d requests failed", 100*rate, t.Requests)
	default:
		c.Verdict, c.Detail = VerdictFail, fmt.Sprintf("%.1f%% of %d requests failed", 100*rate, t.Requests)
	}
	return c
}

func retryCheck(r readinessquery.Retries) Check {
	c := Check{Name: CheckRetries, Doc: CheckDoc(CheckRetries), Figures: map[string]any{
		"retryable_answers": r.Retryable, "retried": r.Retried, "immediate_retries": r.Immediate,
		"min_gap_ms": r.MinGapMs, "median_gap_ms": r.MedianGapMs,
		"min_backoff_ms": readinessquery.MinBackoff.Milliseconds(), "retry_horizon_ms": readinessquery.RetryHorizon.Milliseconds()}}
	switch {
	case r.Retryable == 0:
		c.Verdict, c.Detail = VerdictPass, "no 429 or 5xx answers to retry in the last 7 days"
	case r.Retried == 0:
		c.Verdict, c.Detail = VerdictWarn, fmt.Sprintf("none of %d 429 or 5xx answers was retried within 5 minutes", r.Retryable)
	case r.Immediate == 0:
		c.Verdict, c.Detail = VerdictPass, fmt.Sprintf("all %d retries waited at least 1 s", r.Retried)
	case share(r.Immediate, r.Retried) <= ImmediateRetryWarnShare:
		c.Verdict, c.Detail = VerdictWarn, fmt.Sprintf("%d of %d retries came within 1 s of the 429 or 5xx", r.Immediate, r.Retried)
	default:
		c.Verdict, c.Detail = VerdictFail, fmt.Sprintf("%d of %d retries came within 1 s of the 429 or 5xx: back off exponentially", r.Immediate, r.Retried)
	}
	return c
}
