package growth_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/growth"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func query(v map[string]string) string {
	q := url.Values{}
	for k, x := range v {
		q.Set(k, x)
	}
	return growth.Path + "?" + q.Encode()
}

// Every figure the API answers equals the one computed independently from the raw rows
// seeded in PostgreSQL and ClickHouse (with duplicates in ClickHouse), for each interval,
// split and source filter.
func TestReportEqualsFiguresComputedFromRawRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := e.seed(t, 70)
	cases := []struct {
		name string
		q    map[string]string
		p    params
	}{
		{"weeks, every split", map[string]string{"from": "2026-01-07", "to": "2026-03-18", "interval": "week"},
			params{from: day("2026-01-05"), to: day("2026-03-23"), interval: "week", split: "all"}},
		{"months of one source", map[string]string{"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "source": "REF-A"},
			params{from: day("2026-01-01"), to: day("2026-03-01"), interval: "month", source: "REF-A", split: "all"}},
		{"days by cohort", map[string]string{"from": "2026-01-05", "to": "2026-03-20", "interval": "day", "split": "cohort"},
			params{from: day("2026-01-05"), to: day("2026-03-20"), interval: "day", split: "cohort"}},
		{"partners without a code, by source", map[string]string{"from": "2026-01-01", "to": "2026-04-01", "interval": "week", "source": "none", "split": "source"},
			params{from: day("2025-12-29"), to: day("2026-04-06"), interval: "week", source: "none", split: "source"}},
		{"total only", map[string]string{"from": "2025-12-01", "to": "2026-04-01", "interval": "month", "split": "total"},
			params{from: day("2025-12-01"), to: day("2026-04-01"), interval: "month", split: "total"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.get(query(tc.q), "")
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			assert.Equal(t, "application/json", res.Header().Get("Content-Type"))
			var got growth.GrowthReport
			require.NoError(t, json.Unmarshal(res.Body.Bytes(), &got))
			want := expected(w, tc.p)
			// The case must exercise each table.
			for name, n := range map[string]int{"signups": len(want.Signups), "funnel": len(want.Funnel), "ttfc": len(want.TTFC),
				"active": len(want.ActivePartners), "revenue": len(want.LiveRevenue), "volume": len(want.SandboxVolume), "retention": len(want.Retention)} {
				require.NotZero(t, n, "the case has no %s rows", name)
			}
			require.NotZero(t, want.TTFC[0].Partners, "the case must have first calls")
			activated := false
			for _, row := range want.Funnel {
				activated = activated || (row.Milestone == "first_live_order" && row.MedianSecondsFromPrevious != nil)
			}
			require.True(t, activated, "the case must have activations with a previous step")
			assert.Equal(t, want.From, got.From)
			assert.Equal(t, want.To, got.To)
			assert.Equal(t, want.Source, got.Source)
			assert.Equal(t, want.Signups, got.Signups, "signups")
			assert.Equal(t, want.Funnel, got.Funnel, "funnel")
			assert.Equal(t, want.TTFC, got.TTFC, "ttfc")
			assert.Equal(t, want.ActivePartners, got.ActivePartners, "active partners")
			assert.Equal(t, want.LiveRevenue, got.LiveRevenue, "live revenue")
			assert.Equal(t, want.SandboxVolume, got.SandboxVolume, "sandbox volume")
			assert.Equal(t, want.Retention, got.Retention, "retention")
		})
	}
}

// CSV carries one table, chosen by table, when format=csv or Accept prefers text/csv; its
// header is the JSON field names and its rows the JSON rows, with formula-like text
// defused.
func TestCSVExportsEveryTable(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.seed(t, 25)
	base := map[string]string{"from": "2026-01-05", "to": "2026-03-30", "interval": "week"}
	res := e.get(query(base), "")
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &raw))
	report := map[string][]map[string]any{}
	for _, table := range growth.Tables {
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(raw[table], &rows), table)
		report[table] = rows
	}
	sawDefused := false
	for _, table := range growth.Tables {
		for _, how := range []struct {
			name, accept, format string
		}{{"accept", "text/csv", ""}, {"format", "application/json", "csv"}, {"ranked", "application/json;q=0.4, text/csv;q=0.9", ""}} {
			q := map[string]string{"table": table}
			for k, v := range base {
				q[k] = v
			}
			if how.format != "" {
				q["format"] = how.format
			}
			res := e.get(query(q), how.accept)
			require.Equal(t, http.StatusOK, res.Code, "%s %s: %s", table, how.name, res.Body)
			assert.Equal(t, "text/csv; charset=utf-8", res.Header().Get("Content-Type"))
			assert.Contains(t, res.Header().Get("Content-Disposition"), "growth-"+table+"-2026-01-05-2026-03-30.csv")
			lines, err := csv.NewReader(bytes.NewReader(res.Body.Bytes())).ReadAll()
			require.NoError(t, err)
			rows := report[table]
			require.NotEmpty(t, rows, table)
			require.Len(t, lines, len(rows)+1, "%s: a header and one line per row", table)
			header := lines[0]
			require.Len(t, header, len(rows[0]), "%s: one column per JSON field", table)
			for i, row := range rows {
				for j, col := range header {
					v, ok := row[col]
					require.True(t, ok, "%s: column %s is a JSON field", table, col)
					want := ""
					switch x := v.(type) {
					case nil:
					case string:
						want = x
						if strings.HasPrefix(x, "=") {
							want, sawDefused = "'"+x, true
						}
					case bool:
						want = strconv.FormatBool(x)
					case float64: // JSON numbers: compare as numbers
						assert.InDelta(t, x, parseFloat(t, lines[i+1][j]), 1e-9, "%s row %d %s", table, i, col)
						continue
					}
					assert.Equal(t, want, lines[i+1][j], "%s row %d %s", table, i, col)
				}
			}
		}
	}
	assert.True(t, sawDefused, "the =HACK source is written as '=HACK")

	// JSON when Accept prefers it or format=json says so.
	for _, tc := range []struct{ accept, format string }{{"text/csv;q=0.2, application/json", ""}, {"text/csv", "json"}, {"*/*", ""}} {
		q := map[string]string{"table": "funnel"}
		for k, v := range base {
			q[k] = v
		}
		if tc.format != "" {
			q["format"] = tc.format
		}
		res := e.get(query(q), tc.accept)
		require.Equal(t, http.StatusOK, res.Code)
		assert.Equal(t, "application/json", res.Header().Get("Content-Type"), "%+v", tc)
	}
}
