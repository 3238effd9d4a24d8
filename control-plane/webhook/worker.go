package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/milestone"
)

// retrySchedule is the wait before each retry: the first attempt runs at once, then
// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h later (8 attempts in all).
var retrySchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// MaxAttempts is how many times a delivery is tried before it fails.
var MaxAttempts = len(retrySchedule) + 1

// RetryDelay is the wait after failed attempt n (1-based) before the next one.
func RetryDelay(attempt int) time.Duration {
	if attempt < 1 {
		return 0
	}
	return retrySchedule[min(attempt, len(retrySchedule))-1]
}

const (
	// DeliveryTimeout bounds one HTTP attempt.
	DeliveryTimeout = 15 * time.Second
	// ExcerptLimit bounds the response body kept with an attempt.
	ExcerptLimit = 1024
	// FailingLimit is how long an endpoint may fail without a success before it is disabled.
	FailingLimit = 5 * 24 * time.Hour
	// maxRetryAfter caps a receiver's Retry-After.
	maxRetryAfter = 10 * time.Hour
)

// WorkerConfig configures the delivery Worker.
type WorkerConfig struct {
	// Pool is the control-plane database (required).
	Pool *pgxpool.Pool
	// Logger (required).
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Guard decides which addresses deliveries may reach.
	Guard Guard
	// Resolve overrides DNS resolution (tests); nil uses the system resolver.
	Resolve Resolver
	// Timeout bounds one attempt; DeliveryTimeout when zero.
	Timeout time.Duration
}

// Worker is the River worker that performs one delivery attempt per job run.
type Worker struct {
	river.WorkerDefaults[deliverArgs]
	pool    *pgxpool.Pool
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	timeout time.Duration
}

// NewWorker checks cfg and returns the Worker.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Pool == nil || cfg.Logger == nil {
		return nil, errors.New("webhook.NewWorker: Pool and Logger are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DeliveryTimeout
	}
	return &Worker{pool: cfg.Pool, log: cfg.Logger, now: cfg.Now, timeout: cfg.Timeout,
		client: NewHTTPClient(cfg.Guard, cfg.Resolve, cfg.Timeout)}, nil
}

// NextRetry implements the retry schedule (overriding River's default backoff).
func (w *Worker) NextRetry(job *river.Job[deliverArgs]) time.Time {
	return w.now().Add(RetryDelay(job.Attempt))
}

// Timeout gives River's job context room beyond the HTTP timeout for the bookkeeping.
func (w *Worker) Timeout(*river.Job[deliverArgs]) time.Duration { return w.timeout + 15*time.Second }

// target is what one attempt needs from the delivery and its endpoint.
type target struct {
	id, eventID, payload, status, partnerID, workspaceID, endpointID string
	url, secret                                                      string
	previousSecret                                                   *string
	previousExpires, failingSince                                    *time.Time
	enabled                                                          bool
}

// result is the outcome of one HTTP attempt.
type result struct {
	status     int
	latency    time.Duration
	excerpt    string
	err        error
	retryAfter time.Duration
}

// Work performs one attempt of the delivery named by the job.
func (w *Worker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	var t target
	err := w.pool.QueryRow(ctx, loadAttemptSQL, job.Args.DeliveryID).Scan(&t.id, &t.eventID, &t.payload, &t.status,
		&t.partnerID, &t.workspaceID, &t.endpointID, &t.url, &t.secret, &t.previousSecret, &t.previousExpires, &t.enabled, &t.failingSince)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("delivery %s does not exist", job.Args.DeliveryID))
	}
	if err != nil {
		return err
	}
	if t.status != StatusPending {
		return nil // already finished (a duplicate job)
	}
	now := w.now()
	if !t.enabled {
		_, err := w.pool.Exec(ctx, cancelDeliverySQL, t.id, "the endpoint is disabled or deleted", now)
		if err != nil {
			return err
		}
		return river.JobCancel(errors.New("endpoint disabled"))
	}
	secrets := []string{t.secret}
	if t.previousSecret != nil && t.previousExpires != nil && now.Before(*t.previousExpires) {
		secrets = append(secrets, *t.previousSecret)
	}
	res := w.post(ctx, t, now, secrets)
	// The attempt happened: record it even when the job's context ends now (a shutdown),
	// so the log is complete and a 2xx is not sent again.
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return w.record(recCtx, job, t, now, res)
}

// post sends the signed body once.
func (w *Worker) post(ctx context.Context, t target, now time.Time, secrets []string) result {
	body := []byte(t.payload)
	h, err := Sign(t.eventID, now, body, secrets...)
	if err != nil {
		return result{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Steller-Webhooks/1")
	req.Header.Set("webhook-id", h.ID)
	req.Header.Set("webhook-timestamp", h.Timestamp)
	req.Header.Set("webhook-signature", h.Signature)
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: err}
	}
	defer resp.Body.Close()
	buf, _ := io.ReadAll(io.LimitReader(resp.Body, ExcerptLimit))
	// Drain a little more so the connection can be reused; never read a huge body.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := result{status: resp.StatusCode, latency: time.Since(start), excerpt: excerpt(buf)}
	if resp.StatusCode == http.StatusTooManyRequests {
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return res
}

// excerpt makes the start of a response body storable text of at most ExcerptLimit bytes:
// NULs (which PostgreSQL text refuses) are dropped and invalid UTF-8, such as a rune split
// by the read limit, becomes U+FFFD. The replacement can be longer than what it replaces,
// so the text is cut again at a rune boundary.
func excerpt(b []byte) string {
	s := strings.ToValidUTF8(strings.ReplaceAll(string(b), "\x00", ""), string(utf8.RuneError))
	for len(s) > ExcerptLimit {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// parseRetryAfter reads seconds or an HTTP date; zero when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// record writes the attempt and the delivery's new state, applies the endpoint rules
// (410 and failing for days disable it) and tells River what comes next.
func (w *Worker) record(ctx context.Context, job *river.Job[deliverArgs], t target, now time.Time, res result) error {
	var status *int
	if res.status != 0 {
		status = &res.status
	}
	errText := ""
	if res.err != nil {
		errText = res.err.Error()
	} else if res.status < 200 || res.status > 299 {
		errText = "HTTP " + strconv.Itoa(res.status)
	}
	ok := res.err == nil && res.status >= 200 && res.status <= 299
	last := job.Attempt >= job.MaxAttempts
	var next error
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertAttemptSQL, t.id, now, status, int(res.latency/time.Millisecond), res.excerpt, errText); err != nil {
			return err
		}
		newStatus, nextAt := StatusPending, (*time.Time)(nil)
		switch {
		case ok:
			newStatus = StatusDelivered
			if _, err := tx.Exec(ctx, endpointSucceededSQL, t.endpointID); err != nil {
				return err
			}
			if err := recordDelivered(ctx, tx, t, now); err != nil {
				return err
			}
		case res.status == http.StatusGone:
			newStatus = StatusFailed
			if err := w.disable(ctx, tx, t, now, "the endpoint answered 410 Gone"); err != nil {
				return err
			}
			next = river.JobCancel(errors.New("endpoint answered 410 Gone"))
		default:
			var since time.Time
			if err := tx.QueryRow(ctx, endpointFailedSQL, t.endpointID, now).Scan(&since); err != nil {
				return err
			}
			switch {
			case now.Sub(since) >= FailingLimit:
				newStatus = StatusFailed
				if err := w.disable(ctx, tx, t, now, "failing without a success since "+since.UTC().Format(time.RFC3339)); err != nil {
					return err
				}
				next = river.JobCancel(fmt.Errorf("endpoint failing for %s: disabled", now.Sub(since).Round(time.Minute)))
			case res.status == http.StatusTooManyRequests && res.retryAfter > 0 && !last:
				at := now.Add(res.retryAfter)
				nextAt = &at
				next = river.JobSnooze(res.retryAfter)
			case last:
				newStatus = StatusFailed
				next = fmt.Errorf("final attempt failed: %s", errText)
			default:
				at := now.Add(RetryDelay(job.Attempt))
				nextAt = &at
				next = fmt.Errorf("attempt %d failed: %s", job.Attempt, errText)
			}
		}
		_, err := tx.Exec(ctx, attemptDoneSQL, t.id, newStatus, status, errText, nextAt, now)
		return err
	})
	if err != nil {
		return err
	}
	return next
}

// recordDelivered records first_webhook_delivered in the attempt's transaction: the
// first delivery (of any event, test sends included) that the partner's endpoint answered
// 2xx, with the delivery's id. Its milestone_reached job goes through the River client
// running this job, which carries the milestone worker (NewClient).
func recordDelivered(ctx context.Context, tx pgx.Tx, t target, now time.Time) error {
	jobs, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("webhook: record first_webhook_delivered: %w", err)
	}
	_, err = milestone.Record(ctx, tx, jobs, milestone.Reached{PartnerID: t.partnerID,
		Milestone: milestone.FirstWebhookDelivered, At: now, EventID: t.id, Source: milestone.FromWebhook})
	return err
}

// disable turns an endpoint off, fails its other pending deliveries at their next run,
// and tells the partner: an audit entry and a webhook_notifications row (kind
// endpoint.disabled) for the console and the mailer.
func (w *Worker) disable(ctx context.Context, tx pgx.Tx, t target, now time.Time, reason string) error {
	tag, err := tx.Exec(ctx, disableEndpointSQL, t.endpointID, reason, now)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	details := map[string]any{"reason": reason, "url": t.url}
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertNotificationSQL, t.partnerID, t.workspaceID, NotificationEndpointDisabled, t.endpointID, raw, now); err != nil {
		return err
	}
	w.log.Warn("webhook endpoint disabled", "endpoint", t.endpointID, "partner", t.partnerID, "reason", reason)
	return audit.Record(ctx, tx, audit.Entry{ActorKind: "system", ActorID: "webhook-dispatcher", PartnerID: t.partnerID,
		Action: "webhook_endpoint.disabled", Target: t.endpointID, Details: details})
}
