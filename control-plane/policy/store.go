package policy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/pgdb"
)

// NotifyChannel is the PostgreSQL channel an activation or rollback is announced on (the
// payload is the activated version id); every replica's BundleServer listens to it.
const NotifyChannel = "policy_activations"

// activationLockKey names the transaction-scoped advisory lock that serialises
// activations and rollbacks, so each new activation row links to the one truly before it.
const activationLockKey int64 = 0x706f6c6963790001

// versionColumns select a Version (without the bundle bytes) from policy_versions v.
const versionColumns = `v.id, v.description, v.digest, octet_length(v.bundle)::bigint AS size_bytes,
	v.status, COALESCE(v.validation_error, '') AS validation_error,
	COALESCE(v.rego_tests, 0) AS rego_tests, v.created_by, v.created_at, v.validated_at,
	COALESCE(v.id = (SELECT a.version_id FROM policy_activations a ORDER BY a.id DESC LIMIT 1), false) AS active`

const activationColumns = `id, version_id, kind, activated_by, activated_at, reason, previous_id`

const (
	reserveVersionIDSQL = `SELECT nextval(pg_get_serial_sequence('policy_versions', 'id'))`

	insertVersionSQL = `INSERT INTO policy_versions
	(id, description, bundle, digest, status, validation_error, rego_tests, created_by, created_at, validated_at)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10)`

	listVersionsSQL = `SELECT ` + versionColumns + `
FROM policy_versions v WHERE ($1::bigint = 0 OR v.id < $1) ORDER BY v.id DESC LIMIT $2`

	getVersionSQL = `SELECT ` + versionColumns + ` FROM policy_versions v WHERE v.id = $1`

	getBundleSQL = `SELECT bundle FROM policy_versions WHERE id = $1`

	updateValidationSQL = `UPDATE policy_versions
SET status = $2, validation_error = NULLIF($3, ''), rego_tests = $4, validated_at = $5 WHERE id = $1`

	lockActivationsSQL = `SELECT pg_advisory_xact_lock($1)`

	versionStatusForShareSQL = `SELECT status FROM policy_versions WHERE id = $1 FOR SHARE`

	currentActivationSQL = `SELECT ` + activationColumns + ` FROM policy_activations ORDER BY id DESC LIMIT 1`

	activationByIDSQL = `SELECT ` + activationColumns + ` FROM policy_activations WHERE id = $1`

	insertActivationSQL = `INSERT INTO policy_activations (version_id, kind, activated_by, activated_at, reason, previous_id)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + activationColumns

	notifySQL = `SELECT pg_notify('` + NotifyChannel + `', $1)`

	listActivationsSQL = `SELECT ` + activationColumns + `
FROM policy_activations WHERE ($1::bigint = 0 OR id < $1) ORDER BY id DESC LIMIT $2`

	activeDigestSQL = `SELECT v.id, v.digest FROM policy_activations a
JOIN policy_versions v ON v.id = a.version_id ORDER BY a.id DESC LIMIT 1`
)

// versionRow is a Version as the database returns it.
type versionRow struct {
	ID              int64      `db:"id"`
	Description     string     `db:"description"`
	Digest          string     `db:"digest"`
	SizeBytes       int64      `db:"size_bytes"`
	Status          string     `db:"status"`
	ValidationError string     `db:"validation_error"`
	RegoTests       int        `db:"rego_tests"`
	CreatedBy       string     `db:"created_by"`
	CreatedAt       time.Time  `db:"created_at"`
	ValidatedAt     *time.Time `db:"validated_at"`
	Active          bool       `db:"active"`
}

func (r versionRow) version() Version {
	return Version{
		ID: r.ID, Description: r.Description, Revision: revision(r.ID), Digest: r.Digest,
		SizeBytes: r.SizeBytes, Status: Status(r.Status), ValidationError: r.ValidationError,
		RegoTests: r.RegoTests, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt,
		ValidatedAt: r.ValidatedAt, Active: r.Active,
	}
}

// activationRow is an Activation as the database returns it.
type activationRow struct {
	ID          int64     `db:"id"`
	VersionID   int64     `db:"version_id"`
	Kind        string    `db:"kind"`
	ActivatedBy string    `db:"activated_by"`
	ActivatedAt time.Time `db:"activated_at"`
	Reason      string    `db:"reason"`
	PreviousID  *int64    `db:"previous_id"`
}

func (r activationRow) activation() Activation { return Activation(r) }

// newVersion is what an upload inserts.
type newVersion struct {
	id          int64
	description string
	bundle      []byte
	digest      string
	status      Status
	errMsg      string
	tests       *int
	createdBy   string
	at          time.Time
}

// validation is the outcome of validating a version.
type validation struct {
	status Status
	errMsg string
	tests  *int
	at     time.Time
}

// store runs the package's SQL.
type store struct {
	pool *pgxpool.Pool
}

// translate maps driver errors to fault kinds (pgdb.Translate); what names the thing.
func translate(err error, what string) error {
	return pgdb.Translate(err, pgdb.Messages{NotFound: what + " not found", Conflict: what + " already exists"})
}

func (s *store) reserveVersionID(ctx context.Context) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, reserveVersionIDSQL).Scan(&id)
	return id, translate(err, "policy version id")
}

func (s *store) insertVersion(ctx context.Context, q pgdb.DB, v newVersion) error {
	_, err := q.Exec(ctx, insertVersionSQL, v.id, v.description, v.bundle, v.digest, string(v.status),
		v.errMsg, v.tests, v.createdBy, v.at, v.at)
	return translate(err, "policy version")
}

func (s *store) version(ctx context.Context, q pgdb.DB, id int64) (Version, error) {
	rows, err := q.Query(ctx, getVersionSQL, id)
	if err != nil {
		return Version{}, err
	}
	row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[versionRow])
	return row.version(), translate(err, fmt.Sprintf("policy version %d", id))
}

func (s *store) versions(ctx context.Context, after int64, limit int) ([]Version, error) {
	rows, err := s.pool.Query(ctx, listVersionsSQL, after, limit)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[versionRow])
	if err != nil {
		return nil, err
	}
	out := make([]Version, len(list))
	for i, r := range list {
		out[i] = r.version()
	}
	return out, nil
}

func (s *store) bundle(ctx context.Context, id int64) ([]byte, error) {
	var raw []byte
	err := s.pool.QueryRow(ctx, getBundleSQL, id).Scan(&raw)
	return raw, translate(err, fmt.Sprintf("policy version %d", id))
}

func (s *store) updateValidation(ctx context.Context, q pgdb.DB, id int64, v validation) error {
	tag, err := q.Exec(ctx, updateValidationSQL, id, string(v.status), v.errMsg, v.tests, v.at)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fault.New(fault.ErrNotFound, fmt.Sprintf("policy version %d not found", id))
	}
	return nil
}

func (s *store) lockActivations(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, lockActivationsSQL, activationLockKey)
	return err
}

func (s *store) versionStatusForShare(ctx context.Context, tx pgx.Tx, id int64) (Status, error) {
	var st string
	err := tx.QueryRow(ctx, versionStatusForShareSQL, id).Scan(&st)
	return Status(st), translate(err, fmt.Sprintf("policy version %d", id))
}

// current returns the newest activation, or ok=false when no version was ever activated.
func (s *store) current(ctx context.Context, q pgdb.DB) (Activation, bool, error) {
	rows, err := q.Query(ctx, currentActivationSQL)
	if err != nil {
		return Activation{}, false, err
	}
	row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[activationRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return Activation{}, false, nil
	}
	return row.activation(), err == nil, err
}

func (s *store) activation(ctx context.Context, q pgdb.DB, id int64) (Activation, error) {
	rows, err := q.Query(ctx, activationByIDSQL, id)
	if err != nil {
		return Activation{}, err
	}
	row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[activationRow])
	return row.activation(), translate(err, "activation")
}

func (s *store) insertActivation(ctx context.Context, tx pgx.Tx, a Activation) (Activation, error) {
	rows, err := tx.Query(ctx, insertActivationSQL, a.VersionID, a.Kind, a.ActivatedBy, a.ActivatedAt, a.Reason, a.PreviousID)
	if err != nil {
		return Activation{}, err
	}
	row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[activationRow])
	if err != nil {
		return Activation{}, err
	}
	// Delivered by PostgreSQL when (and only if) the transaction commits.
	if _, err := tx.Exec(ctx, notifySQL, strconv.FormatInt(a.VersionID, 10)); err != nil {
		return Activation{}, err
	}
	return row.activation(), nil
}

func (s *store) activations(ctx context.Context, after int64, limit int) ([]Activation, error) {
	rows, err := s.pool.Query(ctx, listActivationsSQL, after, limit)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[activationRow])
	if err != nil {
		return nil, err
	}
	out := make([]Activation, len(list))
	for i, r := range list {
		out[i] = r.activation()
	}
	return out, nil
}

// activeDigest returns the active version's id and digest, or ok=false when none.
func (s *store) activeDigest(ctx context.Context) (id int64, digest string, ok bool, err error) {
	err = s.pool.QueryRow(ctx, activeDigestSQL).Scan(&id, &digest)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	return id, digest, err == nil, err
}
