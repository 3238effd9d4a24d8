// Package milestone owns partners' activation milestones: their names and funnel order,
// recording each one once per partner with the exact time and the id of the event that
// reached it, and the milestone_reached job that later features (referral rewards,
// re-engagement) consume. Detection from the edge streams builds on Record.
package milestone

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Name is a milestone's stable name, as stored and as the API shows it.
type Name string

// The milestones in funnel order. FirstLiveOrder means the partner is activated.
const (
	// SignedUp: the partner's signup committed.
	SignedUp Name = "signed_up"
	// FirstKey: the partner created an API key of its own (the signup's sandbox key does
	// not count).
	FirstKey Name = "first_key"
	// FirstSandboxCall: the first 2xx answer at the edge to a test key.
	FirstSandboxCall Name = "first_sandbox_call"
	// FirstSandboxOrder: the first sandbox order event.
	FirstSandboxOrder Name = "first_sandbox_order"
	// FirstWebhookDelivered: the first webhook delivery the partner's endpoint answered 2xx.
	FirstWebhookDelivered Name = "first_webhook_delivered"
	// LiveRequested: the partner asked for live access.
	LiveRequested Name = "live_requested"
	// LiveApproved: an admin approved the partner for live.
	LiveApproved Name = "live_approved"
	// FirstLiveKey: the partner's first live key.
	FirstLiveKey Name = "first_live_key"
	// FirstLiveCall: the first 2xx answer at the edge to a live key.
	FirstLiveCall Name = "first_live_call"
	// FirstLiveOrder: the first live order event; the partner is activated.
	FirstLiveOrder Name = "first_live_order"
)

// Activated is the milestone that counts as activation.
const Activated = FirstLiveOrder

// Funnel lists every milestone in funnel order.
var Funnel = []Name{
	SignedUp, FirstKey, FirstSandboxCall, FirstSandboxOrder, FirstWebhookDelivered,
	LiveRequested, LiveApproved, FirstLiveKey, FirstLiveCall, FirstLiveOrder,
}

// Valid reports whether n is one of Funnel.
func (n Name) Valid() bool { return n.Index() >= 0 }

// Index is n's position in Funnel, -1 for an unknown name.
func (n Name) Index() int {
	for i, f := range Funnel {
		if f == n {
			return i
		}
	}
	return -1
}

// Source says where the event that reached a milestone came from.
type Source string

// The sources of milestone events (the onboarding_milestones.source column allows these).
const (
	// FromControlPlane: an action in the control plane (signup, key creation, approval);
	// the event id is the audit entry's or the resource's id.
	FromControlPlane Source = "control_plane"
	// FromRequestLog: a request-log event of the edge; the event id is its request id.
	FromRequestLog Source = "request_log"
	// FromOrderEvent: an order event; the event id is the order event's id.
	FromOrderEvent Source = "order_event"
	// FromWebhook: a webhook delivery attempt; the event id is the delivery's id.
	FromWebhook Source = "webhook"
	// FromBackfill: derived by `steller backfill milestones` from stored rows; the event
	// id is the stored row's id.
	FromBackfill Source = "backfill"
)

// Reached is one partner reaching one milestone.
type Reached struct {
	// PartnerID is the partner (required).
	PartnerID string `json:"partner_id"`
	// Milestone is what was reached (required, one of Funnel).
	Milestone Name `json:"milestone"`
	// At is the exact time of the triggering event (required), not the time it was seen.
	At time.Time `json:"at"`
	// EventID identifies the triggering event within its source.
	EventID string `json:"event_id"`
	// Source is where the triggering event came from (required).
	Source Source `json:"source"`
}

// Validate reports what makes r unfit to record.
func (r Reached) Validate() error {
	switch {
	case r.PartnerID == "":
		return errors.New("milestone: partner id is required")
	case !r.Milestone.Valid():
		return fmt.Errorf("milestone: unknown milestone %q", r.Milestone)
	case r.At.IsZero():
		return errors.New("milestone: the time it was reached is required")
	case r.Source == "":
		return errors.New("milestone: source is required")
	}
	return nil
}

// ReachedArgs is the River job inserted, in the same transaction, when a milestone is
// recorded for the first time: the event later features consume. Its workers must be
// idempotent: River runs a job at least once.
type ReachedArgs struct {
	Reached
}

// Kind is the River job kind.
func (ReachedArgs) Kind() string { return "milestone_reached" }

// InsertOpts puts every milestone job on QueueName.
func (ReachedArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueName} }

// QueueName is the River queue of milestone_reached jobs.
const QueueName = "milestones"

// Inserter inserts River jobs within a transaction; a *river.Client[pgx.Tx] is one.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

const insertSQL = `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at, event_id, source)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (partner_id, milestone) DO NOTHING`

// Record stores r in tx unless the partner has already reached r.Milestone, and reports
// whether this call stored it. When it did, and jobs is not nil, it also inserts the
// ReachedArgs job in tx, so the event exists exactly when the milestone does. A
// milestone is reached once: a later or replayed event changes nothing.
func Record(ctx context.Context, tx pgx.Tx, jobs Inserter, r Reached) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, insertSQL, r.PartnerID, string(r.Milestone), r.At, r.EventID, string(r.Source))
	if err != nil {
		return false, fmt.Errorf("milestone: record %s for %s: %w", r.Milestone, r.PartnerID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if jobs != nil {
		if _, err := jobs.InsertTx(ctx, tx, ReachedArgs{Reached: r}, nil); err != nil {
			return false, fmt.Errorf("milestone: queue %s for %s: %w", r.Milestone, r.PartnerID, err)
		}
	}
	return true, nil
}

// Row is one stored milestone.
type Row struct {
	// Reached is the milestone, its time, event and source.
	Reached
}

const listSQL = `SELECT partner_id, milestone, reached_at, event_id, source
FROM onboarding_milestones WHERE partner_id = $1`

// Querier runs queries: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List returns the milestones partnerID has reached, in funnel order.
func List(ctx context.Context, q Querier, partnerID string) ([]Row, error) {
	rows, err := q.Query(ctx, listSQL, partnerID)
	if err != nil {
		return nil, fmt.Errorf("milestone: list for %s: %w", partnerID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Row, error) {
		var r Row
		var name, source string
		err := row.Scan(&r.PartnerID, &name, &r.At, &r.EventID, &source)
		r.Milestone, r.Source = Name(name), Source(source)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("milestone: list for %s: %w", partnerID, err)
	}
	slices.SortFunc(out, func(a, b Row) int { return cmp.Compare(a.Milestone.Index(), b.Milestone.Index()) })
	return out, nil
}
