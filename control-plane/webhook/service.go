// Package webhook owns signed webhooks for order events: partners' endpoints and their
// whsec_ secrets (with rotation), the Standard Webhooks signer, the SSRF guard on every
// delivery connection, the dispatcher that turns order events from Kafka into durable
// River delivery jobs, the delivery worker with its retry schedule, and the delivery log;
// and the tenant limits on endpoints per workspace and test events per partner.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/page"
	"github.com/steller/platform/control-plane/pgdb"
	"github.com/steller/platform/control-plane/quota"
)

// Config configures the webhook Service.
type Config struct {
	// Pool is the control-plane database (required).
	Pool *pgxpool.Pool
	// Queue inserts delivery jobs (required): a River client, with or without workers.
	Queue *river.Client[pgx.Tx]
	// Logger (required).
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// URLs decides which endpoint URLs may be saved.
	URLs URLPolicy
	// Rand is the source of secrets; crypto/rand when nil.
	Rand io.Reader
	// EndpointLimit is the most endpoints (enabled or not, not deleted) one workspace may
	// have: DefaultEndpointLimit when zero, no limit when negative.
	EndpointLimit int
	// TestSends limits "send test event" per partner (TestSendLimiter; refused with
	// fault.CodeWebhookTestRateLimited); nil sends every one.
	TestSends *quota.Limiter
}

// DefaultEndpointLimit is Config.EndpointLimit when zero.
const DefaultEndpointLimit = 20

// TestSendLimiter returns the limiter of test events per partner at rate r, for
// Config.TestSends; clock is time.Now when nil.
func TestSendLimiter(db pgdb.DB, r quota.Rate, clock func() time.Time) (*quota.Limiter, error) {
	return quota.New(quota.Config{DB: db, Action: "webhook.test_send", Rate: r, Code: fault.CodeWebhookTestRateLimited,
		What: "webhook test events", Clock: clock})
}

// Service manages endpoints and deliveries for the API and the dispatcher.
type Service struct {
	pool   *pgxpool.Pool
	queue  *river.Client[pgx.Tx]
	log    *slog.Logger
	now    func() time.Time
	urls   URLPolicy
	random io.Reader
	limit  int
	tests  *quota.Limiter
}

// New checks cfg and returns the Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("webhook: Pool is required"))
	}
	if cfg.Queue == nil {
		errs = append(errs, errors.New("webhook: Queue is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("webhook: Logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EndpointLimit == 0 {
		cfg.EndpointLimit = DefaultEndpointLimit
	}
	return &Service{pool: cfg.Pool, queue: cfg.Queue, log: cfg.Logger, now: cfg.Now, urls: cfg.URLs, random: cfg.Rand,
		limit: cfg.EndpointLimit, tests: cfg.TestSends}, nil
}

// Endpoint is a partner's webhook endpoint (never with its secret).
type Endpoint struct {
	ID             string     `json:"id" db:"id"`
	Environment    string     `json:"environment" db:"environment" doc:"Which orders it receives: test or live."`
	URL            string     `json:"url" db:"url"`
	Description    string     `json:"description" db:"description"`
	EventTypes     []string   `json:"event_types" db:"event_types"`
	Enabled        bool       `json:"enabled" db:"enabled"`
	DisabledReason string     `json:"disabled_reason,omitempty" db:"disabled_reason" doc:"Why Steller disabled it (gone, failing for days)."`
	RotationEndsAt *time.Time `json:"previous_secret_expires_at,omitempty" db:"previous_expires_at" doc:"Until when the secret before the last rotation still signs."`
	CreatedAt      time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at" db:"updated_at"`
}

// EndpointSettings are a new endpoint's fields.
type EndpointSettings struct {
	Environment, URL, Description string
	EventTypes                    []string
	Enabled                       bool
}

// EndpointChange is a partial update; nil fields are kept.
type EndpointChange struct {
	URL, Description *string
	EventTypes       []string
	Enabled          *bool
}

// EndpointPage is one page of endpoints.
type EndpointPage struct {
	Endpoints  []Endpoint
	NextCursor string
}

func validEventTypes(types []string) error {
	if len(types) == 0 {
		return fault.Invalid("body.event_types", "subscribe to at least one event type", types)
	}
	for _, t := range types {
		if !slices.Contains(EventTypes, t) {
			return fault.Invalid("body.event_types", "unknown event type "+t, t)
		}
	}
	return nil
}

// CreateEndpoint saves a new endpoint and returns it with its secret (the only time the
// secret is shown).
func (s *Service) CreateEndpoint(ctx context.Context, p auth.Principal, set EndpointSettings) (Endpoint, string, error) {
	if err := s.urls.Validate(set.URL, set.Environment); err != nil {
		return Endpoint{}, "", err
	}
	if err := validEventTypes(set.EventTypes); err != nil {
		return Endpoint{}, "", err
	}
	secret, err := NewSecret(s.random)
	if err != nil {
		return Endpoint{}, "", err
	}
	var ep Endpoint
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.checkLimit(ctx, tx, p); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, insertEndpointSQL, ident.New("whe"), p.PartnerID, p.WorkspaceID, set.Environment,
			set.URL, set.Description, dedupe(set.EventTypes), set.Enabled, secret, s.now())
		if err != nil {
			return err
		}
		if ep, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Endpoint]); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.FromPrincipal(p, "webhook_endpoint.created", ep.ID))
	})
	if err != nil {
		return Endpoint{}, "", interpretError(err)
	}
	return ep, secret, nil
}

// checkLimit refuses a new endpoint when p's workspace has EndpointLimit of them. The count
// is taken under the workspace's lock, held until tx ends, so two creations cannot both
// take the last slot (lockWorkspaceSQL says why it is a statement of its own).
func (s *Service) checkLimit(ctx context.Context, tx pgx.Tx, p auth.Principal) error {
	if s.limit < 0 {
		return nil
	}
	var id string
	if err := tx.QueryRow(ctx, lockWorkspaceSQL, p.WorkspaceID, p.PartnerID).Scan(&id); err != nil {
		return notFound(err, "workspace")
	}
	var n int
	if err := tx.QueryRow(ctx, countEndpointsSQL, p.PartnerID, p.WorkspaceID).Scan(&n); err != nil {
		return err
	}
	if n >= s.limit {
		return fault.Coded(fault.ErrConflict, fault.CodeWebhookEndpointLimitReached, fmt.Sprintf(
			"this workspace already has %d webhook endpoints, the most allowed: delete one it no longer uses, or subscribe an existing one to more event types", n))
	}
	return nil
}

func dedupe(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}

// GetEndpoint returns one of the caller's endpoints.
func (s *Service) GetEndpoint(ctx context.Context, p auth.Principal, id string) (Endpoint, error) {
	rows, _ := s.pool.Query(ctx, getEndpointSQL, id, p.PartnerID, p.WorkspaceID)
	ep, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Endpoint])
	if err != nil {
		return Endpoint{}, notFound(err, "webhook endpoint")
	}
	return ep, nil
}

func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.New(fault.ErrNotFound, what+" not found")
	}
	return interpretError(err)
}

// ListEndpoints returns a page of the caller's endpoints, newest first.
func (s *Service) ListEndpoints(ctx context.Context, p auth.Principal, after string, limit int) (EndpointPage, error) {
	c, ok, err := page.DecodeTimeKey(after)
	if err != nil {
		return EndpointPage{}, err
	}
	at, id := bound(c, ok)
	rows, _ := s.pool.Query(ctx, listEndpointsSQL, p.PartnerID, p.WorkspaceID, at, id, limit+1)
	eps, err := pgx.CollectRows(rows, pgx.RowToStructByName[Endpoint])
	if err != nil {
		return EndpointPage{}, interpretError(err)
	}
	out := EndpointPage{Endpoints: eps}
	if len(eps) > limit {
		out.Endpoints = eps[:limit]
		last := out.Endpoints[limit-1]
		out.NextCursor = page.TimeKey{At: last.CreatedAt, ID: last.ID}.Encode()
	}
	return out, nil
}

// UpdateEndpoint changes an endpoint; enabling it again clears why it was disabled.
func (s *Service) UpdateEndpoint(ctx context.Context, p auth.Principal, id string, ch EndpointChange) (Endpoint, error) {
	if ch.EventTypes != nil {
		if err := validEventTypes(ch.EventTypes); err != nil {
			return Endpoint{}, err
		}
		ch.EventTypes = dedupe(ch.EventTypes)
	}
	var ep Endpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if ch.URL != nil {
			cur, err := s.GetEndpoint(ctx, p, id)
			if err != nil {
				return err
			}
			if err := s.urls.Validate(*ch.URL, cur.Environment); err != nil {
				return err
			}
		}
		rows, _ := tx.Query(ctx, updateEndpointSQL, id, p.PartnerID, p.WorkspaceID, ch.URL, ch.Description, ch.EventTypes, ch.Enabled, s.now())
		var err error
		if ep, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Endpoint]); err != nil {
			return notFound(err, "webhook endpoint")
		}
		return audit.Record(ctx, tx, audit.FromPrincipal(p, "webhook_endpoint.updated", id))
	})
	if err != nil {
		return Endpoint{}, interpretError(err)
	}
	return ep, nil
}

// DeleteEndpoint removes an endpoint; its pending deliveries are dropped at their next attempt.
func (s *Service) DeleteEndpoint(ctx context.Context, p auth.Principal, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, deleteEndpointSQL, id, p.PartnerID, p.WorkspaceID, s.now())
		if err != nil {
			return interpretError(err)
		}
		if tag.RowsAffected() == 0 {
			return fault.New(fault.ErrNotFound, "webhook endpoint not found")
		}
		return audit.Record(ctx, tx, audit.FromPrincipal(p, "webhook_endpoint.deleted", id))
	})
}

// Rotation overlaps: how long a rotated-out secret keeps signing.
const (
	// DefaultOverlap is the overlap when the request names none.
	DefaultOverlap = 24 * time.Hour
	// MaxRotationOverlap bounds it.
	MaxRotationOverlap = 7 * 24 * time.Hour
)

// RotateSecret gives an endpoint a new secret; the old one keeps signing (beside the new)
// for overlap. It returns the endpoint and the new secret, shown this once.
func (s *Service) RotateSecret(ctx context.Context, p auth.Principal, id string, overlap time.Duration) (Endpoint, string, error) {
	if overlap < 0 || overlap > MaxRotationOverlap {
		return Endpoint{}, "", fault.Invalid("body.overlap", "the overlap must be between 0s and 168h", overlap.String())
	}
	secret, err := NewSecret(s.random)
	if err != nil {
		return Endpoint{}, "", err
	}
	now := s.now()
	var ep Endpoint
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, rotateSecretSQL, id, p.PartnerID, p.WorkspaceID, secret, now.Add(overlap), now)
		var err error
		if ep, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Endpoint]); err != nil {
			return notFound(err, "webhook endpoint")
		}
		e := audit.FromPrincipal(p, "webhook_endpoint.secret_rotated", id)
		e.Details = map[string]any{"overlap": overlap.String()}
		return audit.Record(ctx, tx, e)
	})
	if err != nil {
		return Endpoint{}, "", interpretError(err)
	}
	return ep, secret, nil
}
