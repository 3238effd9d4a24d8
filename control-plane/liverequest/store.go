package liverequest

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/pgdb"
)

// LiveRequest is one live request with its review outcome.
type LiveRequest struct {
	ID                    string     `json:"id" db:"id"`
	PartnerID             string     `json:"partner_id" db:"partner_id"`
	RequestedBy           string     `json:"requested_by" db:"requested_by" doc:"The owner who asked."`
	LegalName             string     `json:"legal_name" db:"legal_name"`
	Website               string     `json:"website" db:"website"`
	Country               string     `json:"country" db:"country" doc:"ISO 3166-1 alpha-2."`
	ExpectedMonthlyVolume int64      `json:"expected_monthly_volume_cents" db:"expected_monthly_volume_cents" doc:"Expected live order volume per month, in US cents."`
	UseCase               string     `json:"use_case" db:"use_case"`
	Status                string     `json:"status" db:"status" enum:"pending,approved,rejected"`
	RejectionReason       string     `json:"rejection_reason,omitempty" db:"rejection_reason" doc:"Why it was rejected; present when rejected."`
	ReviewedAt            *time.Time `json:"reviewed_at,omitempty" db:"reviewed_at"`
	CreatedAt             time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt             time.Time  `json:"updated_at" db:"updated_at"`
}

const columns = `id, partner_id, requested_by, legal_name, website, country, expected_monthly_volume_cents, use_case,
status, rejection_reason, reviewed_at, created_at, updated_at`

const (
	// lockPartnerSQL serializes a partner's requests: one open request at a time.
	lockPartnerSQL = `SELECT status, live_approved_at FROM partners WHERE id = $1 FOR UPDATE`

	pendingSQL = `SELECT id FROM live_requests WHERE partner_id = $1 AND status = 'pending'`

	insertSQL = `INSERT INTO live_requests (id, partner_id, requested_by, legal_name, website, country,
expected_monthly_volume_cents, use_case, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING ` + columns

	getSQL = `SELECT ` + columns + ` FROM live_requests WHERE id = $1`

	lockSQL = `SELECT ` + columns + ` FROM live_requests WHERE id = $1 FOR UPDATE`

	// listSQL: $1 partner or '', $2 status or '', $3/$4 cursor (created_at, id), $5 limit.
	listSQL = `SELECT ` + columns + ` FROM live_requests
WHERE ($1 = '' OR partner_id = $1) AND ($2 = '' OR status = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
ORDER BY created_at DESC, id DESC LIMIT $5`

	reviewSQL = `UPDATE live_requests SET status = $2, rejection_reason = $3, reviewed_by = $4, reviewed_at = $5, updated_at = $5
WHERE id = $1 RETURNING ` + columns
)

func queryRequests(ctx context.Context, q pgdb.DB, sql string, args ...any) ([]LiveRequest, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[LiveRequest])
	return out, interpretError(err)
}

func queryOne(ctx context.Context, q pgdb.DB, sql string, args ...any) (LiveRequest, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return LiveRequest{}, interpretError(err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[LiveRequest])
	return r, interpretError(err)
}

// interpretError translates pgx errors into fault kinds (pgdb.Translate).
func interpretError(err error) error {
	return pgdb.Translate(err, pgdb.Messages{
		NotFound: "live request not found",
		Conflict: "the partner already has an open live request",
	})
}
