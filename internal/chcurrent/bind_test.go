package chcurrent_test

import (
	"database/sql/driver"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/chcurrent"
)

type status uint16

type env string

type valuer struct{ v any }

func (v valuer) Value() (driver.Value, error) { return v.v, nil }

type failingValuer struct{}

func (failingValuer) Value() (driver.Value, error) { return nil, errors.New("no value") }

func TestBind(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	s := "it's"
	cases := []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"no arguments", "SELECT 1", nil, "SELECT 1"},
		{"string with a quote", "SELECT ?", []any{"it's"}, `SELECT 'it\'s'`},
		{"backslash, NUL and newline", "SELECT ?", []any{"a\\b\x00c\nd"}, "SELECT 'a\\\\b\\0c\nd'"},
		{"hostile string", "WHERE p = ?", []any{"x' OR 1=1 --"}, `WHERE p = 'x\' OR 1=1 --'`},
		{"bytes are a string", "SELECT ?", []any{[]byte("b'")}, `SELECT 'b\''`},
		{"ints", "SELECT ?, ?, ?, ?, ?", []any{-5, int8(-128), uint16(402), uint64(math.MaxUint64), int64(math.MinInt64)},
			"SELECT -5, -128, 402, 18446744073709551615, -9223372036854775808"},
		{"named types", "SELECT ?, ?", []any{status(404), env("live")}, "SELECT 404, 'live'"},
		{"bools", "SELECT ?, ?", []any{true, false}, "SELECT 1, 0"},
		{"floats stay floats", "SELECT ?, ?, ?", []any{1.0, 0.1, float32(2.5)},
			"SELECT cast(1, 'Float64'), cast(0.1, 'Float64'), cast(2.5, 'Float32')"},
		{"nan and infinities", "SELECT ?, ?, ?", []any{math.NaN(), math.Inf(1), math.Inf(-1)},
			"SELECT cast('nan', 'Float64'), cast('inf', 'Float64'), cast('-inf', 'Float64')"},
		{"UTC time", "WHERE ts >= ?", []any{time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)},
			"WHERE ts >= toDateTime('2026-03-10 12:00:00', 'UTC')"},
		{"another zone is the same instant, fractions dropped", "WHERE ts < ?", []any{time.Date(2026, 3, 10, 13, 0, 5, 999_000_000, berlin)},
			"WHERE ts < toDateTime('2026-03-10 12:00:05', 'UTC')"},
		{"slices are arrays", "SELECT ?, ?, ?", []any{[]string{"a", "b'"}, []uint64{1, 2}, [][]int{{1}, {}}},
			`SELECT ['a', 'b\''], [1, 2], [[1], []]`},
		{"nested bytes are arrays", "SELECT ?", []any{[][]byte{{1, 2}}}, "SELECT [[1, 2]]"},
		{"an array", "SELECT ?", []any{[2]string{"x", "y"}}, "SELECT ['x', 'y']"},
		{"nil and pointers", "SELECT ?, ?, ?", []any{nil, (*string)(nil), &s}, `SELECT NULL, NULL, 'it\'s'`},
		{"valuer", "SELECT ?", []any{valuer{"v"}}, "SELECT 'v'"},
		{"placeholders in strings, identifiers and comments are text", "SELECT '?', `a?`, \"b?\", ? -- c?\n, ? # d?\n, /* e? /* f? */ ? */ ?",
			[]any{1, 2, 3}, "SELECT '?', `a?`, \"b?\", 1 -- c?\n, 2 # d?\n, /* e? /* f? */ ? */ 3"},
		{"doubled and escaped quotes stay inside", `SELECT 'a''?', 'b\'?', ?`, []any{1}, `SELECT 'a''?', 'b\'?', 1`},
		{"escaped placeholder", `SELECT \?, ?`, []any{1}, "SELECT ?, 1"},
		{"cursor tuple", "WHERE (timestamp_ms, request_id) < (?, ?) LIMIT ?", []any{uint64(1773144000999), "req_'x", 11},
			`WHERE (timestamp_ms, request_id) < (1773144000999, 'req_\'x') LIMIT 11`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := chcurrent.Bind(tc.sql, tc.args...)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestBindRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"too few arguments", "SELECT ?, ?", []any{1}, "more placeholders than the 1 arguments"},
		{"too many arguments", "SELECT ?", []any{1, 2}, "1 placeholders for 2 arguments"},
		{"arguments without placeholders", "SELECT '?'", []any{1}, "0 placeholders for 1 arguments"},
		{"a map", "SELECT ?", []any{map[string]int{"a": 1}}, "map[string]int is not supported"},
		{"a struct", "SELECT ?", []any{struct{ A int }{1}}, "struct { A int } is not supported"},
		{"a duration", "SELECT ?", []any{time.Second}, "time.Duration is not supported"},
		{"a failing valuer", "SELECT ?", []any{failingValuer{}}, "no value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := chcurrent.Bind(tc.sql, tc.args...)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `'a\\\'b\0'`, chcurrent.Quote("a\\'b\x00"))
}
