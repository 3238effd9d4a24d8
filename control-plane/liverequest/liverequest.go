// Package liverequest owns going live: a partner's request for live access with the
// business details an admin reviews (POST/GET /v1/live-requests), the admin review under
// /v1/admin/live-requests (approve is the partner's approve-live step in the same
// transaction; reject keeps the reason the partner sees), the live_requested and
// live_approved milestones, and the go-live readiness report computed from the partner's
// own sandbox traffic at the edge and its webhook deliveries.
package liverequest

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/page"
	"github.com/steller/platform/control-plane/partner"
)

// Statuses of a live request.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRejected = "rejected"
)

// Problem codes of going live (README.md, "Problem codes").
const (
	// CodeAlreadyLive: the partner is already approved for live (409).
	CodeAlreadyLive = "already_live"
	// CodeRequestPending: the partner already has an open live request (409).
	CodeRequestPending = "live_request_pending"
	// CodeAlreadyReviewed: the live request was already approved or rejected (409).
	CodeAlreadyReviewed = "live_request_reviewed"
	// CodePartnerSuspended: a suspended partner asked for live access (403; the edge's
	// code for the same state).
	CodePartnerSuspended = "partner_suspended"
)

// Config holds the Service's dependencies.
type Config struct {
	// Pool is the control plane's database (required).
	Pool *pgxpool.Pool
	// Partners runs the approve-live step (required).
	Partners *partner.Service
	// Traffic reads the partner's sandbox traffic for the readiness report (required).
	Traffic Traffic
	// Jobs inserts the milestone_reached job beside each milestone; nil records the
	// milestone without its job (until the control plane's River client accepts them).
	Jobs milestone.Inserter
	// Logger receives reviews and why a readiness check is unavailable (required).
	Logger *slog.Logger
	// Clock gives the time; time.Now when nil.
	Clock func() time.Time
}

// Service records live requests and their reviews.
type Service struct {
	cfg Config
}

// New validates cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("liverequest: Config.Pool is required"))
	}
	if cfg.Partners == nil {
		errs = append(errs, errors.New("liverequest: Config.Partners is required"))
	}
	if cfg.Traffic == nil {
		errs = append(errs, errors.New("liverequest: Config.Traffic is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("liverequest: Config.Logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// Details are the business details a partner gives with its request.
type Details struct {
	LegalName             string
	Website               string
	Country               string
	ExpectedMonthlyVolume int64
	UseCase               string
}

// validate repeats the schema's website rule for callers that are not the API (the
// portal): an http or https URL with a host and no credentials.
func (d Details) validate() error {
	u, err := url.Parse(d.Website)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fault.Invalid("body.website", "website must be an http or https URL with a host, such as https://example.com", d.Website)
	}
	return nil
}

// Create records p's request for live access and the live_requested milestone in one
// transaction. A partner already live, or with an open request, gets a conflict.
func (s *Service) Create(ctx context.Context, p auth.Principal, d Details) (LiveRequest, error) {
	if p.PartnerID == "" {
		return LiveRequest{}, fault.New(fault.ErrForbidden, "live requests belong to a partner: sign in as its owner")
	}
	if err := d.validate(); err != nil {
		return LiveRequest{}, err
	}
	now := s.cfg.Clock().UTC()
	var out LiveRequest
	err := pgx.BeginTxFunc(ctx, s.cfg.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var status string
		var approved *time.Time
		if err := tx.QueryRow(ctx, lockPartnerSQL, p.PartnerID).Scan(&status, &approved); err != nil {
			return interpretError(err)
		}
		if status == partner.StatusSuspended {
			return fault.Coded(fault.ErrForbidden, CodePartnerSuspended, "your account is suspended: contact Steller before asking for live access")
		}
		if approved != nil {
			return fault.Coded(fault.ErrConflict, CodeAlreadyLive, "your account is already approved for live: create a live key at /v1/keys")
		}
		var open string
		switch err := tx.QueryRow(ctx, pendingSQL, p.PartnerID).Scan(&open); {
		case err == nil:
			return fault.Coded(fault.ErrConflict, CodeRequestPending, "live request "+open+" is still under review: wait for its outcome")
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		r, err := queryOne(ctx, tx, insertSQL, ident.New("lvr"), p.PartnerID, p.ID, d.LegalName, d.Website, d.Country,
			d.ExpectedMonthlyVolume, d.UseCase, now)
		if err != nil {
			return err
		}
		entry := audit.FromPrincipal(p, "live_request.created", r.ID)
		if err := audit.Record(ctx, tx, entry); err != nil {
			return err
		}
		if _, err := milestone.Record(ctx, tx, s.cfg.Jobs, milestone.Reached{PartnerID: p.PartnerID, Milestone: milestone.LiveRequested,
			At: now, EventID: r.ID, Source: milestone.FromControlPlane}); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// Filter narrows a listing of live requests; zero fields match everything.
type Filter struct {
	PartnerID string
	Status    string
}

// Page is one page of live requests, newest first.
type Page struct {
	Requests   []LiveRequest
	NextCursor string
}

// cursor is the sort key of a page's last row.
type cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

// List returns a page of live requests matching f.
func (s *Service) List(ctx context.Context, f Filter, cur string, limit int) (Page, error) {
	var c cursor
	if _, err := page.Decode(cur, &c); err != nil || (cur != "" && c.ID == "") {
		return Page{}, page.Invalid(cur)
	}
	var at *time.Time
	if c.ID != "" {
		at = &c.At
	}
	rs, err := queryRequests(ctx, s.cfg.Pool, listSQL, f.PartnerID, f.Status, at, c.ID, limit+1)
	if err != nil {
		return Page{}, err
	}
	out := Page{Requests: rs}
	if len(rs) > limit {
		out.Requests = rs[:limit]
		last := rs[limit-1]
		out.NextCursor = page.Encode(cursor{At: last.CreatedAt, ID: last.ID})
	}
	return out, nil
}

// Get returns one live request.
func (s *Service) Get(ctx context.Context, id string) (LiveRequest, error) {
	return queryOne(ctx, s.cfg.Pool, getSQL, id)
}

// Approve approves an open request: in one transaction the partner's approve-live step
// (partner.ApproveLiveTx: live_approved_at, its edge change, its audit entry and the
// live_approved milestone), the request's outcome and its own audit entry. Nothing changes
// when any of them fails.
func (s *Service) Approve(ctx context.Context, p auth.Principal, id string) (LiveRequest, error) {
	return s.review(ctx, p, id, StatusApproved, "", func(tx pgx.Tx, r LiveRequest) error {
		// A partner approved meanwhile through POST /v1/admin/partners/{id}/approve-live is
		// not approved again: the request only records the outcome, so it does not stay
		// open for ever.
		var status string
		var approved *time.Time
		if err := tx.QueryRow(ctx, lockPartnerSQL, r.PartnerID).Scan(&status, &approved); err != nil {
			return interpretError(err)
		}
		if approved != nil {
			return nil
		}
		_, err := s.cfg.Partners.ApproveLiveTx(ctx, tx, p, r.PartnerID, r.ID, map[string]any{"live_request_id": r.ID})
		return err
	})
}

// Reject rejects an open request with the reason the partner sees.
func (s *Service) Reject(ctx context.Context, p auth.Principal, id, reason string) (LiveRequest, error) {
	if strings.TrimSpace(reason) == "" {
		return LiveRequest{}, fault.Invalid("body.reason", "reason is required: the partner sees it", reason)
	}
	return s.review(ctx, p, id, StatusRejected, reason, func(pgx.Tx, LiveRequest) error { return nil })
}

// review locks an open request, runs then, records the outcome and audits it, in one
// transaction.
func (s *Service) review(ctx context.Context, p auth.Principal, id, status, reason string, then func(pgx.Tx, LiveRequest) error) (LiveRequest, error) {
	now := s.cfg.Clock().UTC()
	var out LiveRequest
	err := pgx.BeginTxFunc(ctx, s.cfg.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		r, err := queryOne(ctx, tx, lockSQL, id)
		if err != nil {
			return err
		}
		if r.Status != StatusPending {
			return fault.Coded(fault.ErrConflict, CodeAlreadyReviewed, "live request "+id+" was already "+r.Status)
		}
		if err := then(tx, r); err != nil {
			return err
		}
		out, err = queryOne(ctx, tx, reviewSQL, id, status, reason, p.ID, now)
		if err != nil {
			return err
		}
		entry := audit.FromPrincipal(p, "live_request."+status, id)
		entry.PartnerID = r.PartnerID
		if reason != "" {
			entry.Details = map[string]any{"reason": reason}
		}
		return audit.Record(ctx, tx, entry)
	})
	if err != nil {
		return LiveRequest{}, err
	}
	s.cfg.Logger.Info("live request reviewed", "live_request_id", id, "partner_id", out.PartnerID, "status", status, "by", p.ID)
	return out, nil
}
