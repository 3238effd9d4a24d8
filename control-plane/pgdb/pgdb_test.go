package pgdb_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/pgdb"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	m := pgdb.Messages{NotFound: "key not found", Conflict: "key exists", MissingReference: "no such workspace"}
	other := errors.New("connection reset")
	cases := []struct {
		name    string
		err     error
		kind    error
		message string
	}{
		{"no rows", fmt.Errorf("get: %w", pgx.ErrNoRows), fault.ErrNotFound, "key not found"},
		{"unique", &pgconn.PgError{Code: "23505"}, fault.ErrConflict, "key exists"},
		{"foreign key", &pgconn.PgError{Code: "23503"}, fault.ErrNotFound, "no such workspace"},
		{"NUL or bad UTF-8", &pgconn.PgError{Code: "22021"}, fault.ErrValidation, "the request contains a value the server cannot store"},
		{"bad text for a type", &pgconn.PgError{Code: "22P02"}, fault.ErrValidation, "the request contains a value the server cannot store"},
	}
	for _, tc := range cases {
		got := pgdb.Translate(tc.err, m)
		assert.ErrorIs(t, got, tc.kind, tc.name)
		assert.EqualError(t, got, tc.message, tc.name)
	}
	assert.NoError(t, pgdb.Translate(nil, m))
	assert.Same(t, other, pgdb.Translate(other, m), "anything else stays as it is: an internal error")
	assert.EqualError(t, pgdb.Translate(pgx.ErrNoRows, pgdb.Messages{}), "not found", "empty messages take generic ones")
}
