package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/control-plane/pgdb"
)

const orderColumns = `id, partner_id, workspace_id, key_id, request_id, idempotency_key, request_hash,
	product_id, amount_cents, currency, recipient, metadata, status, planned_outcome, failure_reason,
	complete_after, created_at, finished_at`

// The vendor's SQL templates, filled per mode by newQueries ({orders}, {outbox}: the
// mode's tables; {lock}: its outbox lock). Every query that reads or writes a partner's
// data names the partner.
const (
	orderByKeySQL = `SELECT ` + orderColumns + ` FROM {orders} WHERE partner_id = $1 AND idempotency_key = $2`
	orderByIDSQL  = `SELECT ` + orderColumns + ` FROM {orders} WHERE partner_id = $1 AND id = $2`
	// insertOrderSQL inserts nothing when the partner already used the idempotency key; a
	// concurrent insert of the same key waits here for the other transaction to finish.
	insertOrderSQL = `INSERT INTO {orders} (id, partner_id, workspace_id, key_id, request_id, idempotency_key,
		request_hash, product_id, amount_cents, currency, recipient, metadata, planned_outcome, complete_after, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (partner_id, idempotency_key) DO NOTHING`
	insertOutboxSQL = `INSERT INTO {outbox} (event_id, order_id, payload, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`
	// dueOrdersSQL claims due orders; rows another worker holds are skipped, not waited on.
	dueOrdersSQL = `SELECT ` + orderColumns + ` FROM {orders}
		WHERE status = 'pending' AND complete_after <= $1
		ORDER BY complete_after, id LIMIT $2 FOR UPDATE SKIP LOCKED`
	finishOrderSQL = `UPDATE {orders} SET status = $2, failure_reason = $3, finished_at = $4
		WHERE id = $1 AND status = 'pending'`
	// outboxLockSQL lets one publisher at a time drain the outbox (per database), which
	// keeps the events of an order in order on the topic.
	outboxLockSQL   = `SELECT pg_try_advisory_xact_lock({lock})`
	unsentEventsSQL = `SELECT id, payload FROM {outbox} WHERE sent_at IS NULL ORDER BY id LIMIT $1`
	markSentSQL     = `UPDATE {outbox} SET sent_at = $2 WHERE id = ANY($1)`
	pruneOutboxSQL  = `DELETE FROM {outbox} WHERE sent_at < $1`
)

// The sandbox's balance (sandbox_accounts); the live mode has none.
const (
	balanceSQL = `SELECT balance_cents, currency FROM sandbox_accounts WHERE partner_id = $1`
	// debitSQL changes nothing (and returns no row) when the balance is short.
	debitSQL = `UPDATE sandbox_accounts SET balance_cents = balance_cents - $2, updated_at = $3
		WHERE partner_id = $1 AND balance_cents >= $2 RETURNING balance_cents`
	refundSQL = `UPDATE sandbox_accounts SET balance_cents = balance_cents + $2, updated_at = $3 WHERE partner_id = $1`
)

// errInsufficient: the balance does not cover the order.
var errInsufficient = errors.New("insufficient balance")

func getOrder(ctx context.Context, q pgdb.DB, sql, partnerID, arg string) (orderRow, bool, error) {
	rows, _ := q.Query(ctx, sql, partnerID, arg)
	o, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[orderRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return orderRow{}, false, nil
	}
	if err != nil {
		return orderRow{}, false, fmt.Errorf("sandbox: read order: %w", err)
	}
	return o, true, nil
}

// insertOrder debits the balance (sandbox mode), inserts the order and its order.created
// event in one transaction. It returns inserted=false (and writes nothing) when the
// idempotency key is already taken, and errInsufficient (writing nothing) when the balance
// is short.
func (v *Vendor) insertOrder(ctx context.Context, o orderRow) (inserted bool, err error) {
	err = pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		if v.mode.balance {
			var balance int64
			if err := tx.QueryRow(ctx, debitSQL, o.PartnerID, o.AmountCents, o.CreatedAt).Scan(&balance); errors.Is(err, pgx.ErrNoRows) {
				return errInsufficient
			} else if err != nil {
				return fmt.Errorf("sandbox: debit: %w", err)
			}
		}
		tag, err := tx.Exec(ctx, v.mode.sql.insertOrder, o.ID, o.PartnerID, o.WorkspaceID, o.KeyID, o.RequestID, o.IdempotencyKey,
			o.RequestHash, o.ProductID, o.AmountCents, o.Currency, o.Recipient, o.Metadata, o.PlannedOutcome, o.CompleteAfter, o.CreatedAt)
		if err != nil {
			return fmt.Errorf("sandbox: insert order: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errKeyTaken
		}
		if err := v.writeEvent(ctx, tx, v.event(o, orderevent.TypeCreated, o.CreatedAt), o.CreatedAt); err != nil {
			return err
		}
		inserted = true
		return nil
	})
	if errors.Is(err, errKeyTaken) {
		return false, nil
	}
	return inserted, err
}

// errKeyTaken rolls back an insert whose idempotency key another order holds.
var errKeyTaken = errors.New("idempotency key taken")

// writeEvent adds an event to the mode's outbox in the caller's transaction.
func (v *Vendor) writeEvent(ctx context.Context, tx pgx.Tx, e orderevent.Event, at time.Time) error {
	raw, err := orderevent.Encode(e)
	if err != nil {
		return fmt.Errorf("sandbox: encode %s: %w", e.EventID, err)
	}
	if _, err := tx.Exec(ctx, v.mode.sql.insertOutbox, e.EventID, e.OrderID, raw, at); err != nil {
		return fmt.Errorf("sandbox: write outbox: %w", err)
	}
	return nil
}

// balance returns the partner's balance; a partner without a sandbox account has none.
func (v *Vendor) balance(ctx context.Context, partnerID string) (int64, string, error) {
	var cents int64
	var currency string
	err := v.pool.QueryRow(ctx, balanceSQL, partnerID).Scan(&cents, &currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, Currency, nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("sandbox: read balance: %w", err)
	}
	return cents, currency, nil
}

// finishDue completes or fails up to BatchSize due orders in one transaction, each with
// its event (and a refund for a failure), and returns how many it finished.
func (v *Vendor) finishDue(ctx context.Context) (int, error) {
	now := v.now()
	n := 0
	err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, v.mode.sql.dueOrders, now, v.cfg.BatchSize)
		due, err := pgx.CollectRows(rows, pgx.RowToStructByName[orderRow])
		if err != nil {
			return fmt.Errorf("sandbox: claim due orders: %w", err)
		}
		for _, o := range due {
			eventType := orderevent.TypeCompleted
			o.Status = StatusCompleted
			if o.PlannedOutcome != StatusCompleted {
				eventType, o.Status = orderevent.TypeFailed, StatusFailed
				reason := o.PlannedOutcome
				o.FailureReason = &reason
			}
			o.FinishedAt = &now
			if _, err := tx.Exec(ctx, v.mode.sql.finishOrder, o.ID, o.Status, o.FailureReason, now); err != nil {
				return fmt.Errorf("sandbox: finish order %s: %w", o.ID, err)
			}
			if o.Status == StatusFailed && v.mode.balance {
				if _, err := tx.Exec(ctx, refundSQL, o.PartnerID, o.AmountCents, now); err != nil {
					return fmt.Errorf("sandbox: refund order %s: %w", o.ID, err)
				}
			}
			if err := v.writeEvent(ctx, tx, v.event(o, eventType, now), now); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

// outboxEntry is one unsent event.
type outboxEntry struct {
	ID      int64           `db:"id"`
	Payload json.RawMessage `db:"payload"`
}

// publishOnce sends up to BatchSize unsent events in outbox order and marks them sent once
// the publisher accepted them all. It returns how many it sent; 0 also when another
// process is publishing.
func (v *Vendor) publishOnce(ctx context.Context) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		var locked bool
		if err := tx.QueryRow(ctx, v.mode.sql.outboxLock).Scan(&locked); err != nil {
			return fmt.Errorf("sandbox: lock outbox: %w", err)
		}
		if !locked {
			return nil
		}
		rows, _ := tx.Query(ctx, v.mode.sql.unsentEvents, v.cfg.BatchSize)
		entries, err := pgx.CollectRows(rows, pgx.RowToStructByName[outboxEntry])
		if err != nil {
			return fmt.Errorf("sandbox: read outbox: %w", err)
		}
		if len(entries) == 0 {
			return nil
		}
		events := make([]orderevent.Event, len(entries))
		ids := make([]int64, len(entries))
		for i, en := range entries {
			if err := json.Unmarshal(en.Payload, &events[i]); err != nil {
				return fmt.Errorf("sandbox: outbox row %d: %w", en.ID, err)
			}
			ids[i] = en.ID
		}
		if err := v.publisher.Publish(ctx, events...); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, v.mode.sql.markSent, ids, v.now()); err != nil {
			return fmt.Errorf("sandbox: mark outbox sent: %w", err)
		}
		n = len(entries)
		return nil
	})
	return n, err
}

// pruneOutbox deletes events sent longer ago than OutboxRetention.
func (v *Vendor) pruneOutbox(ctx context.Context) error {
	_, err := v.pool.Exec(ctx, v.mode.sql.pruneOutbox, v.now().Add(-v.cfg.OutboxRetention))
	if err != nil {
		return fmt.Errorf("sandbox: prune outbox: %w", err)
	}
	return nil
}
