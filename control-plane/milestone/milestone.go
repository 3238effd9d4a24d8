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

// BatchInserter inserts many River jobs within a transaction in one statement; a
// *river.Client[pgx.Tx] is one.
type BatchInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

const insertAllSQL = `INSERT INTO onboarding_milestones (partner_id, milestone, reached_at, event_id, source)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
ON CONFLICT (partner_id, milestone) DO NOTHING
RETURNING partner_id, milestone`

// RecordAll is Record for many milestones at once, for the detector and the backfill: one
// INSERT for every row and one for every job, in tx. It returns the milestones this call
// stored (those not reached before), in rs's order; a milestone named twice in rs is
// stored once, from its first occurrence. Writers that may race should pass rs in one
// order (by partner, then milestone) so their row locks cannot deadlock.
func RecordAll(ctx context.Context, tx pgx.Tx, jobs BatchInserter, rs []Reached) ([]Reached, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	partners, names, ats, events, sources := make([]string, len(rs)), make([]string, len(rs)), make([]time.Time, len(rs)), make([]string, len(rs)), make([]string, len(rs))
	type key struct{ partner, name string }
	first := make(map[key]int, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		k := key{r.PartnerID, string(r.Milestone)}
		if _, dup := first[k]; dup {
			// One INSERT may not touch a row twice; later duplicates are dropped here.
			partners[i] = ""
			continue
		}
		first[k] = i
		partners[i], names[i], ats[i], events[i], sources[i] = r.PartnerID, string(r.Milestone), r.At, r.EventID, string(r.Source)
	}
	partners, names, ats, events, sources = compact(partners, names, ats, events, sources)
	rows, err := tx.Query(ctx, insertAllSQL, partners, names, ats, events, sources)
	if err != nil {
		return nil, fmt.Errorf("milestone: record %d milestones: %w", len(partners), err)
	}
	var k key
	stored := map[int]bool{}
	if _, err := pgx.ForEachRow(rows, []any{&k.partner, &k.name}, func() error {
		stored[first[k]] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("milestone: record %d milestones: %w", len(partners), err)
	}
	out := make([]Reached, 0, len(stored))
	params := make([]river.InsertManyParams, 0, len(stored))
	for i, r := range rs {
		if stored[i] {
			out = append(out, r)
			params = append(params, river.InsertManyParams{Args: ReachedArgs{Reached: r}})
		}
	}
	if jobs != nil && len(params) > 0 {
		if _, err := jobs.InsertManyTx(ctx, tx, params); err != nil {
			return nil, fmt.Errorf("milestone: queue %d milestones: %w", len(params), err)
		}
	}
	return out, nil
}

// SortForRecording puts rs in the order every batch writer uses (partner, then
// milestone), so writers racing on the same partners take their row locks in one order.
func SortForRecording(rs []Reached) {
	slices.SortFunc(rs, func(a, b Reached) int {
		return cmp.Or(cmp.Compare(a.PartnerID, b.PartnerID), cmp.Compare(a.Milestone, b.Milestone))
	})
}

// compact drops the entries whose partner is empty (duplicates) from the parallel slices.
func compact(partners, names []string, ats []time.Time, events, sources []string) ([]string, []string, []time.Time, []string, []string) {
	n := 0
	for i := range partners {
		if partners[i] == "" {
			continue
		}
		partners[n], names[n], ats[n], events[n], sources[n] = partners[i], names[i], ats[i], events[i], sources[i]
		n++
	}
	return partners[:n], names[:n], ats[:n], events[:n], sources[:n]
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
