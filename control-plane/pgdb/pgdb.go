// Package pgdb owns what every control-plane store shares about PostgreSQL: the one interface
// a store runs its SQL through (a pool, a connection or a transaction) and the one
// translation of pgx driver errors into the control plane's error kinds (control-plane/fault),
// as river's interpretError does for its driver.
package pgdb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steller/platform/control-plane/fault"
)

// DB is what *pgxpool.Pool, *pgx.Conn and pgx.Tx have in common: stores take it so one
// function serves inside and outside a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PostgreSQL error codes the translation knows (Appendix A of the PostgreSQL manual).
const (
	codeUniqueViolation          = "23505"
	codeForeignKeyViolation      = "23503"
	codeInvalidText              = "22P02"
	codeCharacterNotInRepertoire = "22021"
)

// Messages are the caller-safe messages a store gives each translated error; an empty one
// takes a generic message.
type Messages struct {
	// NotFound is shown when no row matched (pgx.ErrNoRows).
	NotFound string
	// Conflict is shown on a unique violation.
	Conflict string
	// MissingReference is shown on a foreign-key violation (the referenced row is gone).
	MissingReference string
}

// Translate maps a driver error to a fault kind: no rows is ErrNotFound, a unique
// violation ErrConflict, a foreign-key violation ErrNotFound, and text PostgreSQL cannot
// take (a NUL byte, invalid UTF-8, a malformed uuid) ErrValidation. Any other error is
// returned as it is, so the API answers it as an internal error and logs its cause. nil
// stays nil.
func Translate(err error, m Messages) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.New(fault.ErrNotFound, or(m.NotFound, "not found"))
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeUniqueViolation:
			return fault.New(fault.ErrConflict, or(m.Conflict, "already exists"))
		case codeForeignKeyViolation:
			return fault.New(fault.ErrNotFound, or(m.MissingReference, or(m.NotFound, "not found")))
		case codeInvalidText, codeCharacterNotInRepertoire:
			return fault.New(fault.ErrValidation, "the request contains a value the server cannot store")
		}
	}
	return err
}

func or(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}
