package logquery_test

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/schema/schematest"
	"github.com/steller/platform/internal/chcurrent"
	"github.com/steller/platform/internal/testenv"
)

// twin is the same database on both engines (schematest.Twin), with short names for its
// parts.
type twin struct {
	schematest.Twin
	old testenv.ClickHouse
	cur *chcurrent.Session
	db  string
}

func newTwin(t *testing.T) twin {
	t.Helper()
	tw := schematest.NewTwin(t)
	return twin{Twin: tw, old: tw.Old, cur: tw.Cur, db: tw.Database}
}

// insert stores rows in one batch on each engine, as the ingest does (a second call with
// the same rows is a redelivery).
func (tw twin) insert(t *testing.T, rows []logquery.Row) {
	t.Helper()
	res, err := tw.cur.Query(context.Background(), "SELECT name FROM system.columns WHERE database = ? AND table = 'request_logs'", tw.db)
	require.NoError(t, err)
	var tableColumns []string
	for _, r := range res.Rows {
		tableColumns = append(tableColumns, strings.Trim(r[0], `"`))
	}
	columns, values := rowColumns(tableColumns)
	batch := make([][]any, len(rows))
	for i, r := range rows {
		batch[i] = values(r)
	}
	tw.Insert(t, "request_logs", columns, batch)
}

// Every query builder's SQL, with its arguments bound, runs on current ClickHouse after
// every migration, and answers there exactly as on 18.16 for the same rows: the log
// explorer's pages and requests (every column, in order) and the usage figures.
func TestBuildersRunOnCurrentClickHouseAndAnswerAsOn1816(t *testing.T) {
	t.Parallel()
	tw := newTwin(t)
	first, again := twinRows()
	tw.insert(t, first)
	tw.insert(t, again)
	ctx := context.Background()

	cases := twinCases(t, tw.db, first)
	nonEmpty := map[string]int{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tw.cur.Query(ctx, c.sql, c.args...)
			require.NoError(t, err, "%s fails on current ClickHouse %s", c.builder, tw.cur.Version())
			rows, err := tw.old.Conn.Query(ctx, c.sql, c.args...)
			require.NoError(t, err, "%s fails on 18.16", c.builder)
			want, err := chcurrent.Collect(rows)
			require.NoError(t, err)
			assert.Equal(t, want.Columns, got.Columns, "columns: 18.16 (expected) and current ClickHouse (actual) differ")
			assert.Equal(t, schematest.Lines(want), schematest.Lines(got), "rows: 18.16 (expected) and current ClickHouse (actual) differ\n%s", c.sql)
			if len(got.Rows) > 0 {
				nonEmpty[c.builder]++
			}
			if c.matches != nil {
				assert.Equal(t, c.matches, requestIDs(t, got), "a filter of the anchor's values finds the anchor alone")
			}
		})
	}
	// The comparison means something only if the answers have rows.
	for _, b := range []string{"LogPage", "GetRequest", "UsageSeries", "UsageRoutes", "UsageTopErrors", "UsageByPartner", "StuckSince"} {
		assert.Positive(t, nonEmpty[b], "every case of %s answered no rows", b)
	}

	// And the answers are right, not only alike: the first page of a partner holds each of
	// its requests once (redeliveries included), newest first.
	f := logquery.Filter{PartnerID: twinPartners[0]}
	sql, args := logquery.LogPage(tw.db, f, nil, logquery.MaxPageSize)
	page, err := tw.cur.Query(ctx, sql, args...)
	require.NoError(t, err)
	var want []logquery.Row
	for _, r := range first {
		if r.PartnerID == f.PartnerID {
			want = append(want, r)
		}
	}
	slices.SortFunc(want, func(a, b logquery.Row) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(b.RequestID, a.RequestID)
	})
	assert.Equal(t, ids(want), requestIDs(t, page))
}

// requestIDs returns the request_id column of a result.
func requestIDs(t *testing.T, r chcurrent.Result) []string {
	t.Helper()
	col := slices.IndexFunc(r.Columns, func(c chcurrent.Column) bool { return c.Name == "request_id" })
	require.GreaterOrEqual(t, col, 0, "no request_id column")
	out := []string{}
	for _, row := range r.Rows {
		var id string
		require.NoError(t, json.Unmarshal([]byte(row[col]), &id))
		out = append(out, id)
	}
	return out
}

// Every exported function of the package that returns (string, []any) is a query builder,
// and TestBuildersRunOnCurrentClickHouseAndAnswerAsOn1816 must call it: a new builder fails
// here until twinCases covers it.
func TestEveryBuilderRunsOnBothEngines(t *testing.T) {
	t.Parallel()
	builders := packageBuilders(t)
	require.Contains(t, builders, "LogPage", "the search for builders finds the known ones")
	covered := map[string]bool{}
	for _, c := range twinCases(t, "steller", twinRowsOnly()) {
		covered[c.builder] = true
	}
	for _, b := range builders {
		assert.True(t, covered[b], "builder %s is not run on current ClickHouse: add it to twinCases", b)
	}
}

func twinRowsOnly() []logquery.Row {
	first, _ := twinRows()
	return first
}

// packageBuilders lists the exported functions of the package's non-test files whose
// results are (string, []any).
func packageBuilders(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Results == nil {
				continue
			}
			var results []string
			for _, field := range fn.Type.Results.List {
				for range max(1, len(field.Names)) {
					results = append(results, types(field.Type))
				}
			}
			if slices.Equal(results, []string{"string", "[]any"}) {
				out = append(out, fn.Name.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// types spells the result types a builder can have.
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.ArrayType:
		if e.Len == nil {
			return "[]" + types(e.Elt)
		}
	case *ast.InterfaceType:
		if len(e.Methods.List) == 0 {
			return "any"
		}
	}
	return "?"
}
