package chcurrent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/chcurrent"
)

// fatalRecorder stands in for a test to see what a failed start does to it.
type fatalRecorder struct {
	testing.TB
	fatal   string
	skipped bool
}

func (r *fatalRecorder) Helper()                           {}
func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *fatalRecorder) Skip(...any)                       { r.skipped = true }
func (r *fatalRecorder) Skipf(string, ...any)              { r.skipped = true }
func (r *fatalRecorder) SkipNow()                          { r.skipped = true }

func TestAMissingVenvFailsTheTestAndSaysHowToInstallIt(t *testing.T) {
	t.Parallel()
	root := t.TempDir() // a module without .cache/venv
	_, err := chcurrent.StartIn(root, "")
	require.ErrorIs(t, err, chcurrent.ErrNoVenv)

	rec := &fatalRecorder{TB: t}
	s := chcurrent.NewSessionWith(rec, func() (*chcurrent.Session, error) { return chcurrent.StartIn(root, "") })
	assert.Nil(t, s)
	assert.False(t, rec.skipped, "a missing venv must fail the test, not skip it")
	assert.Contains(t, rec.fatal, "bash scripts/install.sh python")
}

func TestSessionKeepsStateAndReportsTheFailingStatement(t *testing.T) {
	t.Parallel()
	s := chcurrent.Shared(t)
	assert.Regexp(t, `^2[4-9]\.|^[3-9][0-9]\.`, s.Version(), "current ClickHouse: 24.x or later")
	ctx := context.Background()
	db := s.NewDatabase(t)

	results, err := s.Run(ctx,
		"CREATE TABLE `"+db+"`.t (a UInt8, s String) ENGINE = MergeTree ORDER BY a",
		"INSERT INTO `"+db+"`.t (a, s) VALUES (1, 'x'), (2, 'y')",
		"SELECT a, s FROM `"+db+"`.t ORDER BY a",
		"SELECT nope FROM `"+db+"`.t",
		"SELECT 1",
	)
	var stmtErr *chcurrent.StatementError
	require.ErrorAs(t, err, &stmtErr)
	assert.Equal(t, 3, stmtErr.Index)
	assert.Equal(t, "SELECT nope FROM `"+db+"`.t", stmtErr.Statement)
	assert.Contains(t, stmtErr.Message, "UNKNOWN_IDENTIFIER")
	assert.Contains(t, err.Error(), "statement 3 failed on current ClickHouse")
	require.Len(t, results, 3, "the results before the failure")
	assert.Empty(t, results[0].Rows)
	assert.Equal(t, []chcurrent.Column{{Name: "a", Type: "UInt8"}, {Name: "s", Type: "String"}}, results[2].Columns)
	assert.Equal(t, [][]string{{"1", `"x"`}, {"2", `"y"`}}, results[2].Rows)

	// The session goes on: the table is still there.
	res, err := s.Query(ctx, "SELECT count() FROM `"+db+"`.t WHERE s = ?", "y")
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"1"}}, res.Rows)
}

func TestResultsAreCanonical(t *testing.T) {
	t.Parallel()
	s := chcurrent.Shared(t)
	res, err := s.Query(context.Background(), "SELECT toUInt64(18446744073709551615) AS u, toInt64(-5) AS i, toFloat64(1e20) AS f,"+
		" nan AS n, -inf AS ninf, 'a\"\\n' AS s, [0.5, 2] AS a, toDateTime('2026-03-10 12:00:00', 'UTC') AS t, toNullable(toUInt8(NULL)) AS z,"+
		" [toFloat32(0.1)] AS f32")
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"18446744073709551615", "-5", "1e+20", `"nan"`, `"-inf"`, `"a\"\n"`, "[0.5,2]",
		`"2026-03-10 12:00:00"`, "null", "[0.1]"}}, res.Rows)
}

func TestACancelledCallStopsItsRunner(t *testing.T) {
	t.Parallel()
	s := chcurrent.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Run(ctx, "SELECT 1")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Run(context.Background(), "SELECT 1")
	assert.ErrorIs(t, err, context.Canceled, "the session stays unusable")
}

func TestAStatementThatRunsLongIsStoppedByItsDeadline(t *testing.T) {
	t.Parallel()
	s := chcurrent.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// sleepEachRow is capped at 3 s per block: 30 blocks of one row take 90 s.
	_, err := s.Run(ctx, "SELECT sleepEachRow(3) FROM numbers(30) SETTINGS max_block_size = 1")
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
