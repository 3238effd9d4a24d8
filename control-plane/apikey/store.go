package apikey

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/pgdb"
)

// row is one api_keys row.
type row struct {
	ID           string     `db:"id"`
	PartnerID    string     `db:"partner_id"`
	WorkspaceID  string     `db:"workspace_id"`
	Environment  string     `db:"environment"`
	Name         string     `db:"name"`
	Display      string     `db:"display"`
	Hash         []byte     `db:"hash"`
	Roles        []string   `db:"roles"`
	AllowedCIDRs []string   `db:"allowed_cidrs"`
	Status       string     `db:"status"`
	ExpiresAt    *time.Time `db:"expires_at"`
	GraceUntil   *time.Time `db:"grace_until"`
	RolledTo     *string    `db:"rolled_to"`
	CreatedBy    string     `db:"created_by"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
	LastUsedAt   *time.Time `db:"last_used_at"`
	RevokedAt    *time.Time `db:"revoked_at"`
	// EdgeDeletedAt is when the key's key_delete went to the edge feed (it was dead past
	// the dead-key grace): it is never published again.
	EdgeDeletedAt *time.Time `db:"edge_deleted_at"`
}

// wire returns the key as published to edges.
func (r row) wire() (edgewire.Key, error) {
	return edgesync.KeyRow{
		ID: r.ID, Hash: r.Hash, PartnerID: r.PartnerID, WorkspaceID: r.WorkspaceID,
		Environment: r.Environment, Roles: r.Roles, AllowedCIDRs: r.AllowedCIDRs, Status: r.Status,
		ExpiresAt: r.ExpiresAt, GraceUntil: r.GraceUntil,
	}.Wire()
}

const columns = `id, partner_id, workspace_id, environment, name, display, hash, roles, allowed_cidrs,
status, expires_at, grace_until, rolled_to, created_by, created_at, updated_at, last_used_at, revoked_at,
edge_deleted_at`

const (
	insertSQL = `INSERT INTO api_keys (id, partner_id, workspace_id, environment, name, display, hash,
    roles, allowed_cidrs, expires_at, created_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
RETURNING ` + columns

	// getSQL scopes every read to the caller's partner and workspace: another tenant's key
	// id finds nothing.
	getSQL = `SELECT ` + columns + ` FROM api_keys WHERE id = $1 AND partner_id = $2 AND workspace_id = $3`

	getForUpdateSQL = getSQL + ` FOR UPDATE`

	// listSQL pages newest first by (created_at, id); $3/$4 are the last row of the previous
	// page (NULL for the first page).
	listSQL = `SELECT ` + columns + ` FROM api_keys
WHERE partner_id = $1 AND workspace_id = $2
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
ORDER BY created_at DESC, id DESC LIMIT $5`

	updateSQL = `UPDATE api_keys SET name = $2, roles = $3, allowed_cidrs = $4, updated_at = $5
WHERE id = $1 RETURNING ` + columns

	rollOldSQL = `UPDATE api_keys SET grace_until = $2, rolled_to = $3, updated_at = $4
WHERE id = $1 RETURNING ` + columns

	revokeSQL = `UPDATE api_keys SET status = 'revoked', revoked_at = $2, updated_at = $2
WHERE id = $1 RETURNING ` + columns

	// FOR SHARE: a key's creation publishes the partner's status beside the key, so it must
	// read the committed status and keep it until it commits. A concurrent suspension
	// (FOR UPDATE) then either waits for it or is seen by it; the feed never ends on a
	// status the partner no longer has.
	partnerSQL = `SELECT status, live_approved_at FROM partners WHERE id = $1 FOR SHARE`

	// lockWorkspaceSQL serializes the key changes of one workspace that are counted against
	// the key limit: two creations cannot both count the last free slot, because the second
	// waits here until the first commits and then counts again. FOR NO KEY UPDATE, not FOR
	// UPDATE: inserts referencing the workspace (keys, endpoints, members) take FOR KEY
	// SHARE and must not wait on it. Its own statement, before countKeysSQL: in READ
	// COMMITTED a statement that waited for a lock still reads the snapshot it started with,
	// so a count in the same statement would miss the key the first creation committed.
	lockWorkspaceSQL = `SELECT id FROM workspaces WHERE id = $1 AND partner_id = $2 FOR NO KEY UPDATE`

	// countKeysSQL counts the workspace's active keys ($2 is now) and, apart, its rolled
	// keys still in their grace period: what KeyLimit caps.
	countKeysSQL = `SELECT count(*) FILTER (WHERE grace_until IS NULL), count(*) FILTER (WHERE grace_until IS NOT NULL)
FROM api_keys
WHERE workspace_id = $1 AND status = 'active'
  AND (expires_at IS NULL OR expires_at > $2) AND (grace_until IS NULL OR grace_until > $2)`

	// workspaceSQL finds the partner's workspace by id, or its first one when $2 is empty.
	workspaceSQL = `SELECT id FROM workspaces WHERE partner_id = $1 AND ($2 = '' OR id = $2)
ORDER BY created_at, id LIMIT 1`
)

func queryKey(ctx context.Context, q pgdb.DB, sql string, args ...any) (row, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return row{}, interpretError(err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[row])
	return r, interpretError(err)
}

func queryKeys(ctx context.Context, q pgdb.DB, sql string, args ...any) ([]row, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[row])
	return rs, interpretError(err)
}

// partnerState is what key creation needs to know about the owning partner.
type partnerState struct {
	Status         string
	LiveApprovedAt *time.Time
}

func getPartner(ctx context.Context, q pgdb.DB, partnerID string) (partnerState, error) {
	var p partnerState
	err := q.QueryRow(ctx, partnerSQL, partnerID).Scan(&p.Status, &p.LiveApprovedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fault.New(fault.ErrNotFound, "partner not found")
	}
	return p, interpretError(err)
}

func findWorkspace(ctx context.Context, q pgdb.DB, partnerID, workspaceID string) (string, error) {
	var id string
	err := q.QueryRow(ctx, workspaceSQL, partnerID, workspaceID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fault.New(fault.ErrNotFound, "workspace not found for this partner")
	}
	return id, interpretError(err)
}

// interpretError translates pgx errors into fault kinds (pgdb.Translate).
func interpretError(err error) error {
	return pgdb.Translate(err, pgdb.Messages{
		NotFound: "API key not found", Conflict: "an API key with this secret already exists",
		MissingReference: "the partner or workspace does not exist",
	})
}

// keyCounts are a workspace's keys that count against the key limit.
type keyCounts struct{ active, inGrace int }

// lockAndCount locks sc's workspace against other counted key changes until tx ends and
// counts its keys at now.
func lockAndCount(ctx context.Context, tx pgx.Tx, sc scope, now time.Time) (keyCounts, error) {
	var id string
	err := tx.QueryRow(ctx, lockWorkspaceSQL, sc.workspaceID, sc.partnerID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return keyCounts{}, fault.New(fault.ErrNotFound, "workspace not found for this partner")
	}
	if err != nil {
		return keyCounts{}, interpretError(err)
	}
	var c keyCounts
	err = tx.QueryRow(ctx, countKeysSQL, sc.workspaceID, now).Scan(&c.active, &c.inGrace)
	return c, interpretError(err)
}
