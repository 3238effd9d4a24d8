// Package partner owns platform admins' partner administration: listing and searching
// partners, suspending and reinstating them, approving them for live keys (each change
// written with its edge change and audit entry in one transaction, so edges deny a
// suspended partner within a second), and reading the audit log.
package partner

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/control-plane/audit"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/page"
)

// Partner statuses.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Config holds the Service's dependencies.
type Config struct {
	// Pool is the control plane's database (required).
	Pool *pgxpool.Pool
	// Logger receives administrative actions (required).
	Logger *slog.Logger
	// Clock gives the time; time.Now when nil.
	Clock func() time.Time
	// Jobs queues live_approved's milestone_reached job in the approval's transaction
	// (the control plane's River client); nil records the milestone without its job.
	Jobs milestone.Inserter
}

// Service administers partners and reads the audit log.
type Service struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	clock func() time.Time
	jobs  milestone.Inserter
}

// New validates cfg and builds a Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("partner: Config.Pool is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("partner: Config.Logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Service{pool: cfg.Pool, log: cfg.Logger, clock: cfg.Clock, jobs: cfg.Jobs}, nil
}

// Filter narrows a partner listing.
type Filter struct {
	// Query matches a substring of the company name or of any member's e-mail address.
	Query string
	// Status is "active", "suspended" or "" for both.
	Status string
}

// Page is one page of partners, newest first.
type Page struct {
	Partners   []Partner
	NextCursor string
}

// List returns a page of partners matching f.
func (s *Service) List(ctx context.Context, f Filter, cur string, limit int) (Page, error) {
	c, err := decodeCursor(cur)
	if err != nil || (cur != "" && c.ID == "") {
		return Page{}, page.Invalid(cur)
	}
	var at *time.Time
	if c.ID != "" {
		at = &c.At
	}
	ps, err := queryPartners(ctx, s.pool, listSQL, f.Query, f.Status, at, c.ID, limit+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Partners: ps}
	if len(ps) > limit {
		page.Partners = ps[:limit]
		last := ps[limit-1]
		page.NextCursor = encodeCursor(cursor{At: last.CreatedAt, ID: last.ID})
	}
	return page, nil
}

// Get returns one partner.
func (s *Service) Get(ctx context.Context, id string) (Partner, error) {
	return getPartner(ctx, s.pool, id)
}

// Suspend stops a partner's keys at every edge (partner_suspended) until reinstated.
func (s *Service) Suspend(ctx context.Context, p auth.Principal, id, reason string) (Partner, error) {
	return s.change(ctx, p, id, "partner.suspended", map[string]any{"reason": reason},
		func(tx pgx.Tx, status string, _ *time.Time, now time.Time) error {
			if status == StatusSuspended {
				return fault.New(fault.ErrConflict, "the partner is already suspended")
			}
			_, err := tx.Exec(ctx, setStatusSQL, id, StatusSuspended, now)
			return err
		})
}

// Reinstate lets a suspended partner's keys work again.
func (s *Service) Reinstate(ctx context.Context, p auth.Principal, id, reason string) (Partner, error) {
	return s.change(ctx, p, id, "partner.reinstated", map[string]any{"reason": reason},
		func(tx pgx.Tx, status string, _ *time.Time, now time.Time) error {
			if status != StatusSuspended {
				return fault.New(fault.ErrConflict, "the partner is not suspended")
			}
			_, err := tx.Exec(ctx, setStatusSQL, id, StatusActive, now)
			return err
		})
}

// ApproveLive lets the partner create live keys.
func (s *Service) ApproveLive(ctx context.Context, p auth.Principal, id string) (Partner, error) {
	var out Partner
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		out, err = s.ApproveLiveTx(ctx, tx, p, id, id, nil)
		return err
	})
	if err != nil {
		return Partner{}, err
	}
	s.log.Info("partner changed", "action", "partner.live_approved", "partner_id", id, "by", p.ID)
	return out, nil
}

// ApproveLiveTx is ApproveLive within the caller's transaction, so an approval and what
// caused it (a reviewed live request) commit together; details go into the audit entry,
// and eventID (what caused it: the live request's id, or the partner's for a direct
// approval) into the live_approved milestone.
func (s *Service) ApproveLiveTx(ctx context.Context, tx pgx.Tx, p auth.Principal, id, eventID string, details map[string]any) (Partner, error) {
	return changeTx(ctx, tx, p, id, "partner.live_approved", details, s.clock(),
		func(tx pgx.Tx, _ string, approved *time.Time, now time.Time) error {
			if approved != nil {
				return fault.New(fault.ErrConflict, "the partner is already approved for live")
			}
			if _, err := tx.Exec(ctx, approveLiveSQL, id, now); err != nil {
				return err
			}
			_, err := milestone.Record(ctx, tx, s.jobs, milestone.Reached{PartnerID: id, Milestone: milestone.LiveApproved,
				At: now, EventID: eventID, Source: milestone.FromControlPlane})
			return err
		})
}

// change locks a partner row, applies apply, then publishes the partner's state to edges
// and audits the action, all in one transaction.
func (s *Service) change(ctx context.Context, p auth.Principal, id, action string, details map[string]any,
	apply func(tx pgx.Tx, status string, liveApprovedAt *time.Time, now time.Time) error) (Partner, error) {
	now := s.clock()
	var out Partner
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		out, err = changeTx(ctx, tx, p, id, action, details, now, apply)
		return err
	})
	if err != nil {
		return Partner{}, err
	}
	s.log.Info("partner changed", "action", action, "partner_id", id, "by", p.ID)
	return out, nil
}

// changeTx is change's body within tx.
func changeTx(ctx context.Context, tx pgx.Tx, p auth.Principal, id, action string, details map[string]any, now time.Time,
	apply func(tx pgx.Tx, status string, liveApprovedAt *time.Time, now time.Time) error) (Partner, error) {
	var status string
	var approved *time.Time
	if err := tx.QueryRow(ctx, lockSQL, id).Scan(&status, &approved); err != nil {
		return Partner{}, interpretError(err)
	}
	if err := apply(tx, status, approved, now); err != nil {
		return Partner{}, interpretError(err)
	}
	updated, err := getPartner(ctx, tx, id)
	if err != nil {
		return Partner{}, err
	}
	entry := audit.FromPrincipal(p, action, id)
	entry.PartnerID, entry.Details = id, details
	if err := audit.Record(ctx, tx, entry); err != nil {
		return Partner{}, err
	}
	if err := edgesync.PublishPartner(ctx, tx, edgewire.Partner{ID: id, Status: edgewire.PartnerStatus(updated.Status)}); err != nil {
		return Partner{}, err
	}
	return updated, nil
}

// AuditFilter narrows an audit log listing; zero fields match everything.
type AuditFilter struct {
	PartnerID string
	Action    string
	From, To  *time.Time
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Entries    []AuditEntry
	NextCursor string
}

// Audit returns a page of audit entries matching f.
func (s *Service) Audit(ctx context.Context, f AuditFilter, cur string, limit int) (AuditPage, error) {
	c, err := decodeCursor(cur)
	if err != nil || (cur != "" && c.Seq <= 0) {
		return AuditPage{}, page.Invalid(cur)
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return AuditPage{}, fault.Invalid("query.to", "to must be after from", f.To.Format(time.RFC3339))
	}
	rows, err := s.pool.Query(ctx, auditSQL, f.PartnerID, f.Action, f.From, f.To, c.Seq, limit+1)
	if err != nil {
		return AuditPage{}, err
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByName[AuditEntry])
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit]
		page.NextCursor = encodeCursor(cursor{Seq: entries[limit-1].ID})
	}
	return page, nil
}
