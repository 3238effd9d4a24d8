// Package onboarding owns a partner's onboarding view (GET /v1/onboarding): the checklist
// of activation milestones with each one's state and time, the next suggested step with
// the guide and portal page that do it, the times to value (first call, first sandbox
// order, activation), and the stuck hint read from the partner's own requests at the edge.
package onboarding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/milestone"
)

// Activity reads the partner's requests at the edge (a *logquery.Store).
type Activity interface {
	// Stuck is partnerID's most frequent failure since its last 2xx in the day before now.
	Stuck(ctx context.Context, partnerID string, now time.Time) (logquery.Stuck, error)
}

// Config configures the Service.
type Config struct {
	// Milestones reads the stored milestones (required; a pool).
	Milestones milestone.Querier
	// Activity reads request logs for the stuck hint (required).
	Activity Activity
	// Logger records why the stuck hint is unavailable; default discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service computes partners' onboarding views.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Milestones == nil || cfg.Activity == nil {
		return nil, errors.New("onboarding: Milestones and Activity are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// Step is one milestone of the checklist.
type Step struct {
	Milestone milestone.Name `json:"milestone" example:"first_sandbox_call"`
	Title     string         `json:"title" example:"Make your first sandbox call"`
	Done      bool           `json:"done"`
	ReachedAt *time.Time     `json:"reached_at,omitempty" doc:"When the event that reached it happened."`
	EventID   string         `json:"event_id,omitempty" doc:"The event that reached it: a request id, an order event id, a delivery id or an audit entry."`
	Doc       string         `json:"doc" doc:"The guide that explains the step." example:"/docs/quickstart#first-call"`
	Portal    string         `json:"portal,omitempty" doc:"The portal page that does it." example:"/app/console"`
}

// NextStep is what the partner should do next.
type NextStep struct {
	Milestone milestone.Name `json:"milestone" example:"first_sandbox_call"`
	Title     string         `json:"title" example:"Make your first sandbox call"`
	Action    string         `json:"action" doc:"What to do, in a sentence."`
	Doc       string         `json:"doc" example:"/docs/quickstart#first-call"`
	Portal    string         `json:"portal,omitempty" example:"/app/console"`
	// WaitingOnSteller is true when the step is Steller's (the live review), not the partner's.
	WaitingOnSteller bool `json:"waiting_on_steller"`
}

// Durations are the times to value, in whole seconds from signup; absent until reached.
type Durations struct {
	TimeToFirstCall         *int64 `json:"time_to_first_call_seconds,omitempty" doc:"Signup to the first 2xx sandbox call (TTFC)."`
	TimeToFirstSandboxOrder *int64 `json:"time_to_first_sandbox_order_seconds,omitempty" doc:"Signup to the first sandbox order."`
	TimeToActivation        *int64 `json:"time_to_activation_seconds,omitempty" doc:"Signup to the first live order."`
}

// Stuck states.
const (
	// StuckYes: requests have failed since the last 2xx; Stuck says how.
	StuckYes = "stuck"
	// StuckNo: no 4xx or denial since the last 2xx of the last 24 hours.
	StuckNo = "not_stuck"
	// StuckHidden: the caller's role may not read request logs (Finance).
	StuckHidden = "hidden"
	// StuckUnavailable: the request logs cannot be read right now.
	StuckUnavailable = "unavailable"
)

// StuckHint is the partner's most frequent failure since its last success.
type StuckHint struct {
	logquery.Stuck
	// Doc explains the failure and how to fix it.
	Doc string `json:"doc" example:"/docs/errors#ip_not_allowed"`
	// Logs is the explorer filtered to those requests.
	Logs string `json:"logs" example:"/v1/logs?denial_code=ip_not_allowed"`
}

// Onboarding is a partner's onboarding view.
type Onboarding struct {
	PartnerID string `json:"partner_id"`
	// Activated is true once the partner placed its first live order.
	Activated bool `json:"activated"`
	// Checklist holds every milestone in funnel order.
	Checklist []Step `json:"checklist"`
	// Next is the first milestone of the checklist not yet reached; absent once all are.
	Next      *NextStep `json:"next_step,omitempty"`
	Durations Durations `json:"durations"`
	// StuckState says whether Stuck is present and, if not, why.
	StuckState string     `json:"stuck_state" enum:"stuck,not_stuck,hidden,unavailable"`
	Stuck      *StuckHint `json:"stuck,omitempty" doc:"The most frequent 4xx or denial of the last 24 hours with no 2xx since."`
}

// Get returns partnerID's onboarding view; withActivity says whether the caller may see
// the stuck hint (read from request logs). A failure to read the request logs leaves the
// hint out (StuckUnavailable), never the checklist.
func (s *Service) Get(ctx context.Context, partnerID string, withActivity bool) (Onboarding, error) {
	rows, err := milestone.List(ctx, s.cfg.Milestones, partnerID)
	if err != nil {
		return Onboarding{}, err
	}
	if len(rows) == 0 { // every partner has signed_up, unless there is no such partner
		if err := s.exists(ctx, partnerID); err != nil {
			return Onboarding{}, err
		}
	}
	reached := make(map[milestone.Name]milestone.Row, len(rows))
	for _, r := range rows {
		reached[r.Milestone] = r
	}
	out := Onboarding{PartnerID: partnerID, Checklist: make([]Step, 0, len(milestone.Funnel))}
	_, out.Activated = reached[milestone.Activated]
	for _, name := range milestone.Funnel {
		g := guide(name)
		step := Step{Milestone: name, Title: g.title, Doc: g.doc, Portal: g.portal}
		if r, ok := reached[name]; ok {
			at := r.At.UTC()
			step.Done, step.ReachedAt, step.EventID = true, &at, r.EventID
		} else if out.Next == nil {
			out.Next = &NextStep{Milestone: name, Title: g.title, Action: g.action, Doc: g.doc, Portal: g.portal, WaitingOnSteller: g.steller}
		}
		out.Checklist = append(out.Checklist, step)
	}
	since := func(name milestone.Name) *int64 {
		start, ok := reached[milestone.SignedUp]
		end, done := reached[name]
		if !ok || !done {
			return nil
		}
		d := int64(end.At.Sub(start.At) / time.Second)
		return &d
	}
	out.Durations = Durations{
		TimeToFirstCall:         since(milestone.FirstSandboxCall),
		TimeToFirstSandboxOrder: since(milestone.FirstSandboxOrder),
		TimeToActivation:        since(milestone.Activated),
	}
	out.StuckState, out.Stuck = s.stuck(ctx, partnerID, withActivity)
	return out, nil
}

// exists returns a not-found fault unless partnerID is a partner.
func (s *Service) exists(ctx context.Context, partnerID string) error {
	rows, err := s.cfg.Milestones.Query(ctx, `SELECT 1 FROM partners WHERE id = $1`, partnerID)
	if err != nil {
		return fmt.Errorf("onboarding: find partner: %w", err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("onboarding: find partner: %w", err)
	}
	if !found {
		return fault.New(fault.ErrNotFound, "no partner "+partnerID)
	}
	return nil
}

// stuck returns the stuck state and hint.
func (s *Service) stuck(ctx context.Context, partnerID string, withActivity bool) (string, *StuckHint) {
	if !withActivity {
		return StuckHidden, nil
	}
	st, err := s.cfg.Activity.Stuck(ctx, partnerID, s.cfg.Now())
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "onboarding: stuck hint unavailable", "partner_id", partnerID, "error", err)
		}
		return StuckUnavailable, nil
	}
	if st.Count == 0 {
		return StuckNo, nil
	}
	return StuckYes, &StuckHint{Stuck: st, Doc: ErrorDoc(st.Code), Logs: logsLink(st)}
}

// ErrorDoc is the errors guide's entry for a problem code (an edge denial code or
// http_<status>), which the problems' type URLs point to as well.
func ErrorDoc(code string) string { return "/docs/errors#" + code }

// logsLink is the explorer query listing the stuck requests.
func logsLink(st logquery.Stuck) string {
	if status, ok := strings.CutPrefix(st.Code, "http_"); ok {
		return "/v1/logs?status=" + status
	}
	return "/v1/logs?denial_code=" + st.Code
}

// stepGuide is how the portal presents one milestone.
type stepGuide struct {
	title, action, doc, portal string
	// steller: the step is Steller's to take.
	steller bool
}

// guide returns name's presentation. Doc paths are the portal's guides; portal paths its
// signed-in pages.
func guide(name milestone.Name) stepGuide {
	switch name {
	case milestone.SignedUp:
		return stepGuide{"Create your account", "Sign up with your company's name and e-mail.", "/docs/quickstart", "/signup", false}
	case milestone.FirstKey:
		return stepGuide{"Create an API key", "Create a test key with the roles and addresses your integration needs.",
			"/docs/authentication#keys", "/app/keys", false}
	case milestone.FirstSandboxCall:
		return stepGuide{"Make your first sandbox call", "Call GET /v1/catalog with your test key, from your code or the console.",
			"/docs/quickstart#first-call", "/app/console", false}
	case milestone.FirstSandboxOrder:
		return stepGuide{"Place a sandbox order", "POST /v1/orders with a test key and an Idempotency-Key; the sandbox pays from fake USD.",
			"/docs/sandbox", "/app/console", false}
	case milestone.FirstWebhookDelivered:
		return stepGuide{"Receive a webhook", "Add a webhook endpoint and answer 2xx to an order event (or a test send).",
			"/docs/webhooks", "/app/webhooks", false}
	case milestone.LiveRequested:
		return stepGuide{"Request live access", "Tell us about your business with POST /v1/live-requests.",
			"/docs/going-live", "/app/go-live", false}
	case milestone.LiveApproved:
		return stepGuide{"Get approved for live", "Steller reviews your request and its readiness report; you will see the answer here.",
			"/docs/going-live#review", "/app/go-live", true}
	case milestone.FirstLiveKey:
		return stepGuide{"Create a live key", "Create a live key (live keys start with sk_live_).",
			"/docs/authentication#live-keys", "/app/keys", false}
	case milestone.FirstLiveCall:
		return stepGuide{"Make your first live call", "Call GET /v1/catalog with your live key.",
			"/docs/going-live#first-live-call", "/app/logs", false}
	case milestone.FirstLiveOrder:
		return stepGuide{"Place your first live order", "POST /v1/orders with your live key: this activates your account.",
			"/docs/going-live#first-live-order", "/app/logs", false}
	}
	return stepGuide{title: string(name), doc: "/docs/quickstart"}
}
