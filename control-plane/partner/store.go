package partner

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/page"
	"github.com/steller/platform/control-plane/pgdb"
)

// Partner is a partner as admins see it.
type Partner struct {
	ID             string     `json:"id" db:"id"`
	Company        string     `json:"company" db:"company"`
	Status         string     `json:"status" db:"status" enum:"active,suspended"`
	OwnerEmail     *string    `json:"owner_email" db:"owner_email" doc:"The first owner's e-mail address."`
	LiveApprovedAt *time.Time `json:"live_approved_at" db:"live_approved_at"`
	CreatedAt      time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at" db:"updated_at"`
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID        int64          `json:"id" db:"id"`
	At        time.Time      `json:"at" db:"at"`
	ActorKind string         `json:"actor_kind" db:"actor_kind"`
	ActorID   string         `json:"actor_id" db:"actor_id"`
	PartnerID *string        `json:"partner_id" db:"partner_id"`
	Action    string         `json:"action" db:"action"`
	Target    string         `json:"target" db:"target"`
	Details   map[string]any `json:"details" db:"details"`
}

const ownerEmailSQL = `(SELECT u.email::text FROM workspaces w
   JOIN memberships m ON m.workspace_id = w.id JOIN users u ON u.id = m.user_id
   WHERE w.partner_id = p.id AND m.role = 'owner' ORDER BY m.created_at, u.id LIMIT 1)`

const partnerColumns = `p.id, p.company, p.status, p.live_approved_at, p.created_at, p.updated_at, ` + ownerEmailSQL + ` AS owner_email`

const (
	// listSQL: $1 search text (company or any member's e-mail, case-insensitive substring;
	// strpos, so % and _ are plain characters), $2 status or '', $3/$4 cursor, $5 limit.
	listSQL = `SELECT ` + partnerColumns + ` FROM partners p
WHERE ($1 = '' OR strpos(lower(p.company), lower($1)) > 0 OR EXISTS (
        SELECT 1 FROM workspaces w JOIN memberships m ON m.workspace_id = w.id
        JOIN users u ON u.id = m.user_id
        WHERE w.partner_id = p.id AND strpos(lower(u.email::text), lower($1)) > 0))
  AND ($2 = '' OR p.status = $2)
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3, $4))
ORDER BY p.created_at DESC, p.id DESC LIMIT $5`

	getSQL = `SELECT ` + partnerColumns + ` FROM partners p WHERE p.id = $1`

	lockSQL = `SELECT status, live_approved_at FROM partners WHERE id = $1 FOR UPDATE`

	setStatusSQL = `UPDATE partners SET status = $2, updated_at = $3 WHERE id = $1`

	approveLiveSQL = `UPDATE partners SET live_approved_at = $2, updated_at = $2 WHERE id = $1`

	// auditSQL: $1 partner or '', $2 action or '', $3/$4 time range (NULL: open), $5 cursor
	// id (0: first page), $6 limit. Newest first by id.
	auditSQL = `SELECT id, at, actor_kind, actor_id, partner_id, action, target, details FROM audit_log
WHERE ($1 = '' OR partner_id = $1) AND ($2 = '' OR action = $2)
  AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
  AND ($5 = 0 OR id < $5)
ORDER BY id DESC LIMIT $6`
)

func queryPartners(ctx context.Context, q pgdb.DB, sql string, args ...any) ([]Partner, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	ps, err := pgx.CollectRows(rows, pgx.RowToStructByName[Partner])
	return ps, interpretError(err)
}

func getPartner(ctx context.Context, q pgdb.DB, id string) (Partner, error) {
	rows, err := q.Query(ctx, getSQL, id)
	if err != nil {
		return Partner{}, interpretError(err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Partner])
	return p, interpretError(err)
}

// interpretError translates pgx errors into fault kinds (pgdb.Translate).
func interpretError(err error) error {
	return pgdb.Translate(err, pgdb.Messages{NotFound: "partner not found", Conflict: "conflicting change"})
}

// cursor is the sort key of a page's last row: (created_at, id) for partners, id for the
// audit log.
type cursor struct {
	At  time.Time `json:"t,omitzero"`
	ID  string    `json:"id,omitempty"`
	Seq int64     `json:"n,omitempty"`
}

func encodeCursor(c cursor) string { return page.Encode(c) }

// decodeCursor returns the zero cursor for the first page and a 422 for a cursor this API
// did not make.
func decodeCursor(s string) (cursor, error) {
	var c cursor
	if _, err := page.Decode(s, &c); err != nil {
		return cursor{}, err
	}
	return c, nil
}
