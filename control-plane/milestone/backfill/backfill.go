// Package backfill owns `steller backfill milestones`: it derives every milestone it can
// from what is already stored, for partners who reached them before detection ran (or
// while it was off), and records them through milestone.RecordAll with source backfill.
//
// From PostgreSQL: signed_up (the partner's created_at; event id the partner id),
// first_key (the first key a member of the partner created, the signup's sandbox key
// left out; event id the key id), first_live_key (the first live key), live_approved
// (live_approved_at; the partner id), live_requested (the first live request's
// created_at; its id) and first_webhook_delivered (the first delivery
// marked delivered; the delivery id). From ClickHouse (analytics/milestonequery):
// first_sandbox_call and first_live_call (the first allowed 2xx request; the request id)
// and first_sandbox_order and first_live_order (the first order.completed; the event id),
// by the detector's rules. live_requested is the partner's first live request (its id).
//
// It walks the partners in id order, a chunk at a time, each chunk in one transaction,
// and prints its progress after each. Interrupting it loses at most the chunk in flight;
// running it again records only what is still missing (a milestone is reached once, so
// nothing already stored, by the detector or an earlier run, moves).
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/analytics/milestonequery"
	"github.com/steller/platform/control-plane/milestone"
)

// DefaultChunkSize is how many partners one transaction covers.
const DefaultChunkSize = 500

// Config configures Run.
type Config struct {
	// Pool is the control-plane database (required).
	Pool *pgxpool.Pool
	// ClickHouse and Database are the warehouse holding request_logs and order_events
	// (required).
	ClickHouse driver.Conn
	Database   string
	// Jobs inserts the milestone_reached jobs of what is recorded (required).
	Jobs milestone.BatchInserter
	// ChunkSize is how many partners one transaction covers; DefaultChunkSize when zero.
	ChunkSize int
	// Progress receives one line per chunk (nil: none).
	Progress io.Writer
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Result is what a run did.
type Result struct {
	// Partners is how many partners were done, of Total.
	Partners, Total int
	// Recorded counts the milestones this run stored, by name.
	Recorded map[milestone.Name]int
}

// Run backfills every partner's milestones until done or ctx ends; an interrupted run
// returns ctx's error with the partners done so far.
func Run(ctx context.Context, cfg Config) (Result, error) {
	var errs []error
	if cfg.Pool == nil {
		errs = append(errs, errors.New("backfill: Pool is required"))
	}
	if cfg.ClickHouse == nil || cfg.Database == "" {
		errs = append(errs, errors.New("backfill: ClickHouse and Database are required"))
	}
	if cfg.Jobs == nil {
		errs = append(errs, errors.New("backfill: Jobs is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	res := Result{Recorded: map[milestone.Name]int{}}
	if err := cfg.Pool.QueryRow(ctx, `SELECT count(*) FROM partners`).Scan(&res.Total); err != nil {
		return res, fmt.Errorf("backfill: count partners: %w", err)
	}
	after := ""
	for {
		ids, err := nextChunk(ctx, cfg.Pool, after, cfg.ChunkSize)
		if err != nil {
			return res, err
		}
		if len(ids) == 0 {
			return res, nil
		}
		stored, err := chunk(ctx, cfg, ids)
		if err != nil {
			return res, err
		}
		for _, r := range stored {
			res.Recorded[r.Milestone]++
		}
		res.Partners += len(ids)
		after = ids[len(ids)-1]
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "backfill milestones: %d/%d partners done, %d milestones recorded\n",
				res.Partners, max(res.Total, res.Partners), sum(res.Recorded))
		}
	}
}

func sum(m map[milestone.Name]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func nextChunk(ctx context.Context, pool *pgxpool.Pool, after string, n int) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT id FROM partners WHERE id > $1 ORDER BY id LIMIT $2`, after, n)
	if err != nil {
		return nil, fmt.Errorf("backfill: list partners: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("backfill: list partners: %w", err)
	}
	return ids, nil
}

// chunk derives and records the milestones of ids in one transaction.
func chunk(ctx context.Context, cfg Config, ids []string) ([]milestone.Reached, error) {
	fromCH, err := fromClickHouse(ctx, cfg, ids)
	if err != nil {
		return nil, err
	}
	var stored []milestone.Reached
	err = pgx.BeginFunc(ctx, cfg.Pool, func(tx pgx.Tx) error {
		rs, err := fromPostgres(ctx, tx, ids)
		if err != nil {
			return err
		}
		rs = append(rs, fromCH...)
		milestone.SortForRecording(rs)
		stored, err = milestone.RecordAll(ctx, tx, cfg.Jobs, rs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backfill: record milestones of %d partners from %s: %w", len(ids), ids[0], err)
	}
	return stored, nil
}

// postgresSQL derives the control-plane milestones of partners $1 (the columns:
// partner, milestone, time, event id). first_key leaves out keys created by anyone but a
// user (an admin's) and the signup's sandbox key, named in the signup's audit entry.
const postgresSQL = `SELECT id, 'signed_up', created_at, id FROM partners WHERE id = ANY($1)
UNION ALL
SELECT id, 'live_approved', live_approved_at, id FROM partners WHERE id = ANY($1) AND live_approved_at IS NOT NULL
UNION ALL
(SELECT DISTINCT ON (k.partner_id) k.partner_id, 'first_key', k.created_at, k.id FROM api_keys k
 WHERE k.partner_id = ANY($1) AND EXISTS (SELECT 1 FROM users u WHERE u.id = k.created_by)
   AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.partner_id = k.partner_id AND a.action = 'partner.signed_up'
                   AND a.details->>'sandbox_key_id' = k.id)
 ORDER BY k.partner_id, k.created_at, k.id)
UNION ALL
(SELECT DISTINCT ON (partner_id) partner_id, 'first_live_key', created_at, id FROM api_keys
 WHERE partner_id = ANY($1) AND environment = 'live' ORDER BY partner_id, created_at, id)
UNION ALL
(SELECT DISTINCT ON (partner_id) partner_id, 'live_requested', created_at, id FROM live_requests
 WHERE partner_id = ANY($1) ORDER BY partner_id, created_at, id)
UNION ALL
(SELECT DISTINCT ON (partner_id) partner_id, 'first_webhook_delivered', delivered_at, id FROM webhook_deliveries
 WHERE partner_id = ANY($1) AND status = 'delivered' AND delivered_at IS NOT NULL ORDER BY partner_id, delivered_at, id)`

func fromPostgres(ctx context.Context, tx pgx.Tx, ids []string) ([]milestone.Reached, error) {
	rows, err := tx.Query(ctx, postgresSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("backfill: read control-plane milestones: %w", err)
	}
	var out []milestone.Reached
	var r milestone.Reached
	var name string
	_, err = pgx.ForEachRow(rows, []any{&r.PartnerID, &name, &r.At, &r.EventID}, func() error {
		r.Milestone, r.Source = milestone.Name(name), milestone.FromBackfill
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backfill: read control-plane milestones: %w", err)
	}
	return out, nil
}

// fromClickHouse derives the calls' and orders' milestones of ids.
func fromClickHouse(ctx context.Context, cfg Config, ids []string) ([]milestone.Reached, error) {
	var out []milestone.Reached
	read := func(what string, sql string, args []any, test, live milestone.Name) error {
		rows, err := cfg.ClickHouse.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("backfill: read %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			var partner, env, id string
			var ms int64
			if what == "first calls" {
				var u uint64
				if err := rows.Scan(&partner, &env, &u, &id); err != nil {
					return fmt.Errorf("backfill: read %s: %w", what, err)
				}
				ms = int64(u)
			} else if err := rows.Scan(&partner, &env, &ms, &id); err != nil {
				return fmt.Errorf("backfill: read %s: %w", what, err)
			}
			name := test
			if env == "live" {
				name = live
			}
			out = append(out, milestone.Reached{PartnerID: partner, Milestone: name, At: time.UnixMilli(ms).UTC(),
				EventID: id, Source: milestone.FromBackfill})
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("backfill: read %s: %w", what, err)
		}
		return nil
	}
	sql, args := milestonequery.FirstCalls(cfg.Database, ids)
	if err := read("first calls", sql, args, milestone.FirstSandboxCall, milestone.FirstLiveCall); err != nil {
		return nil, err
	}
	sql, args = milestonequery.FirstOrders(cfg.Database, ids)
	if err := read("first orders", sql, args, milestone.FirstSandboxOrder, milestone.FirstLiveOrder); err != nil {
		return nil, err
	}
	return out, nil
}
