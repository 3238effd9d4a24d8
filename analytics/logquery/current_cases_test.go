package logquery_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steller/platform/analytics/logquery"
)

// The rows that current_test.go feeds to both engines, and the builder calls it runs on
// them. Filters and stored columns are found by reflection over logquery.Filter and
// logquery.Row, so a field added to either is covered without a change here.

var twinBase = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// twinPartners: the last one tries the escaping of every literal on the way.
var twinPartners = []string{"ptr_a", "ptr_b", `ptr_'q"\?`}

// twinRows returns 49 requests of three partners over 25 hours (across a day boundary),
// and the four of them that are delivered a second time.
func twinRows() (first, again []logquery.Row) {
	endpoints := []struct{ method, path, route string }{
		{"GET", "/v1/catalog", "catalog.list"}, {"POST", "/v1/orders", "orders.create"},
		{"GET", "/v1/orders/ord_1", "orders.get"}, {"GET", "/v1/balance", "balance.get"},
		{"DELETE", "/v1/orders/ord_'2?", "unknown"},
	}
	statuses := []uint16{200, 201, 404, 402, 500, 401, 403, 200}
	ingested := twinBase.Add(48 * time.Hour)
	for i := range 48 {
		ep, status := endpoints[i%len(endpoints)], statuses[i%len(statuses)]
		key, decision, denial := fmt.Sprintf("key_%d", i%3), "allow", ""
		switch status {
		case 401:
			key, decision, denial = "", "deny", "missing_key"
		case 403:
			decision, denial = "deny", "ip_not_allowed"
		}
		partner := twinPartners[i%len(twinPartners)]
		first = append(first, logquery.Row{
			Timestamp: twinBase.Add(time.Duration(i)*31*time.Minute + time.Duration(i%4)*250*time.Millisecond),
			RequestID: fmt.Sprintf("r%02d", i), PartnerID: partner, WorkspaceID: "ws_" + partner, KeyID: key,
			Environment: []string{"test", "live"}[i%2], Method: ep.method, Path: ep.path, Route: ep.route, Status: status,
			LatencyTotalUs: uint64(1000 + 750*i), LatencyUpstreamUs: uint64(500 + 700*i), LatencyEdgeUs: uint64(500 + 50*i),
			ClientIP: "203.0.113.7", UserAgent: `twin/1 "quoted" \ ?`, RequestBytes: uint64(10 * i), ResponseBytes: uint64(100 * i),
			Decision: decision, DenialCode: denial, SchemaVersion: 1, IngestedAt: ingested,
		})
	}
	// Same partner and millisecond as r00: the request id breaks the tie.
	tie := first[0]
	tie.RequestID = "r48"
	first = append(first, tie)
	fillUnknownStrings(first)
	return first, []logquery.Row{first[3], first[4], first[20], first[48]}
}

// fillUnknownStrings gives every string field of Row that no row sets (one added after
// this file was written, such as a client's own request id) a few distinct values.
func fillUnknownStrings(rows []logquery.Row) {
	rt := reflect.TypeFor[logquery.Row]()
	for f := range rt.NumField() {
		if rt.Field(f).Type.Kind() != reflect.String {
			continue
		}
		if slices.ContainsFunc(rows, func(r logquery.Row) bool { return reflect.ValueOf(r).Field(f).String() != "" }) {
			continue
		}
		for i := range rows {
			reflect.ValueOf(&rows[i]).Elem().Field(f).SetString(fmt.Sprintf("%s-%d", strings.ToLower(rt.Field(f).Name), i%4))
		}
	}
}

// rowColumns maps the fields of Row to request_logs columns by their JSON names; the
// Timestamp is stored twice, as ts (its second) and timestamp_ms. Fields without a column
// of that name are left out, as are columns without a field (they take their DEFAULT).
func rowColumns(tableColumns []string) (columns []string, values func(logquery.Row) []any) {
	rt := reflect.TypeFor[logquery.Row]()
	var fields []int
	for f := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(f).Tag.Get("json"), ",")
		switch {
		case name == "timestamp":
			columns = append(columns, "ts", "timestamp_ms")
		case slices.Contains(tableColumns, name):
			columns = append(columns, name)
		default:
			continue
		}
		fields = append(fields, f)
	}
	return columns, func(r logquery.Row) []any {
		var out []any
		for _, f := range fields {
			v := reflect.ValueOf(r).Field(f).Interface()
			if rt.Field(f).Name == "Timestamp" {
				ts := v.(time.Time)
				out = append(out, ts.Truncate(time.Second), uint64(ts.UnixMilli()))
				continue
			}
			out = append(out, v)
		}
		return out
	}
}

// builderCase is one builder call: the SQL and arguments it returned.
type builderCase struct {
	name    string
	builder string // the function's name, for TestEveryBuilderRunsOnBothEngines
	sql     string
	args    []any
	// matches, when set, are the request ids a LogPage case must answer.
	matches []string
}

// namedFilter is a filter and what it sets.
type namedFilter struct {
	name string
	f    logquery.Filter
	// anchored says that the filter is made of the anchor's values and matches only it.
	anchored bool
}

// filterCandidates returns values to try for Filter field f, best first: the anchor
// row's value of the Row field of the same name (Status for the status filters, the
// Timestamp and a millisecond later for times), then, unless onlyAnchor, plain valid
// values.
func filterCandidates(f reflect.StructField, anchor logquery.Row, onlyAnchor bool) []any {
	row := reflect.ValueOf(anchor)
	switch f.Type {
	case reflect.TypeFor[time.Time]():
		return []any{anchor.Timestamp, anchor.Timestamp.Add(time.Millisecond)}
	}
	var out []any
	switch f.Type.Kind() {
	case reflect.String:
		if v := row.FieldByName(f.Name); v.IsValid() && v.Kind() == reflect.String && v.String() != "" {
			out = append(out, v.String())
		}
		if !onlyAnchor {
			out = append(out, "live", "GET", "/v1/orders", "ip_not_allowed", "x")
		}
	case reflect.Int:
		out = []any{int(anchor.Status), int(anchor.Status) / 100}
		if !onlyAnchor {
			out = append(out, 404, 4, 1)
		}
	case reflect.Bool:
		out = []any{true}
	}
	return out
}

// setFilter returns f with field i set to v (converted to the field's type).
func setFilter(f logquery.Filter, i int, v any) logquery.Filter {
	field := reflect.ValueOf(&f).Elem().Field(i)
	field.Set(reflect.ValueOf(v).Convert(field.Type()))
	return f
}

// twinFilters returns valid filters of partner that together set every field of Filter:
// each field alone, then as many fields at once as stay valid, around anchor (so that
// the combined filter still matches it), until every field was in a combination.
func twinFilters(t *testing.T, partner string, anchor logquery.Row) []namedFilter {
	t.Helper()
	rt := reflect.TypeFor[logquery.Filter]()
	base := logquery.Filter{PartnerID: partner}
	out := []namedFilter{{"no filter", base, false}}
	var fields []int
	used := map[int]bool{}
	for i := range rt.NumField() {
		if rt.Field(i).Name == "PartnerID" {
			continue
		}
		fields = append(fields, i)
		for _, v := range filterCandidates(rt.Field(i), anchor, false) {
			if f := setFilter(base, i, v); f.Validate() == nil {
				out = append(out, namedFilter{fmt.Sprintf("%s=%v", rt.Field(i).Name, v), f, false})
				used[i] = true
				break
			}
		}
	}
	combined := map[int]bool{}
	for len(combined) < len(fields) {
		// Fields not yet combined go first, so that each pass brings in new ones.
		order := slices.Clone(fields)
		slices.SortStableFunc(order, func(a, b int) int {
			return boolOrder(combined[a]) - boolOrder(combined[b])
		})
		f, names, added := base, []string{}, false
		for _, i := range order {
			candidates := filterCandidates(rt.Field(i), anchor, true)
			if len(candidates) == 0 {
				combined[i] = true // the anchor has no value for it: the singles cover it
			}
			for _, v := range candidates {
				if next := setFilter(f, i, v); next.Validate() == nil {
					f = next
					names = append(names, rt.Field(i).Name)
					added = added || !combined[i]
					combined[i], used[i] = true, true
					break
				}
			}
		}
		if !added {
			break
		}
		out = append(out, namedFilter{"together: " + strings.Join(names, ", "), f, true})
	}
	for _, i := range fields {
		if !used[i] {
			t.Errorf("no valid value found for Filter.%s (%s): add one to filterCandidates", rt.Field(i).Name, rt.Field(i).Type)
		}
	}
	return out
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}

// twinCases calls every builder of the package on database db with representative
// inputs for rows: the log explorer's pages with every filter alone and combined, with
// and without a cursor; single requests; usage of one partner and of all partners by
// minute, hour and day; usage by partner. Each input is valid (builders expect that).
func twinCases(t *testing.T, db string, rows []logquery.Row) []builderCase {
	t.Helper()
	var cases []builderCase
	add := func(name, builder string, valid error, sql string, args []any, matches ...string) {
		if valid != nil {
			t.Errorf("%s: invalid input: %v", name, valid)
			return
		}
		cases = append(cases, builderCase{name: name, builder: builder, sql: sql, args: args, matches: matches})
	}
	for _, partner := range twinPartners {
		var mine []logquery.Row
		for _, r := range rows {
			if r.PartnerID == partner {
				mine = append(mine, r)
			}
		}
		// Anchors: a request that was allowed and one that was denied.
		denied := slices.IndexFunc(mine, func(r logquery.Row) bool { return r.DenialCode != "" })
		for _, anchor := range []logquery.Row{mine[0], mine[denied]} {
			after := mine[len(mine)/2].Cursor()
			for _, nf := range twinFilters(t, partner, anchor) {
				name := fmt.Sprintf("LogPage %s around %s: %s", partner, anchor.RequestID, nf.name)
				var matches []string
				if nf.anchored {
					matches = []string{anchor.RequestID}
				}
				sql, args := logquery.LogPage(db, nf.f, nil, logquery.MaxPageSize)
				add(name, "LogPage", logquery.ValidatePage(nf.f, nil, logquery.MaxPageSize), sql, args, matches...)
				sql, args = logquery.LogPage(db, nf.f, &after, 3)
				add(name+", after "+after.RequestID, "LogPage", logquery.ValidatePage(nf.f, &after, 3), sql, args)
			}
		}
		for _, id := range []string{mine[0].RequestID, mine[len(mine)-1].RequestID, rows[1].RequestID, "nope' OR '1'='1"} {
			sql, args := logquery.GetRequest(db, partner, id)
			add(fmt.Sprintf("GetRequest %s %s", partner, id), "GetRequest", nil, sql, args)
		}
	}
	windows := []logquery.UsageQuery{
		{From: twinBase.Add(10 * time.Second), To: twinBase.Add(5*time.Hour + 30*time.Second), Interval: logquery.IntervalMinute},
		{From: twinBase.Add(-30 * time.Second), To: twinBase.Add(26 * time.Hour), Interval: logquery.IntervalHour},
		{From: twinBase.Add(-24 * time.Hour), To: twinBase.Add(48 * time.Hour), Interval: logquery.IntervalDay},
	}
	builders := []struct {
		name  string
		build func(string, logquery.UsageQuery) (string, []any)
	}{
		{"UsageSeries", logquery.UsageSeries}, {"UsageRoutes", logquery.UsageRoutes}, {"UsageTopErrors", logquery.UsageTopErrors},
	}
	for _, partner := range append([]string{""}, twinPartners...) {
		for _, w := range windows {
			w.PartnerID = partner
			for _, b := range builders {
				sql, args := b.build(db, w)
				add(fmt.Sprintf("%s %q by %s", b.name, partner, w.Interval), b.name, w.Validate(), sql, args)
			}
		}
	}
	for _, limit := range []int{1, logquery.MaxPartners} {
		for _, w := range windows[:2] {
			sql, args := logquery.UsageByPartner(db, w.From, w.To, limit)
			add(fmt.Sprintf("UsageByPartner %s..%s limit %d", w.From.Format(time.TimeOnly), w.To.Format(time.DateTime), limit),
				"UsageByPartner", logquery.ValidatePartnerUsage(w.From, w.To, limit), sql, args)
		}
	}
	for _, partner := range append(twinPartners, "ptr_none") {
		for _, until := range []time.Time{twinBase.Add(3 * time.Hour), twinBase.Add(25 * time.Hour), twinBase.Add(49 * time.Hour)} {
			sql, args := logquery.StuckSince(db, partner, until.Add(-logquery.StuckWindow), until)
			add(fmt.Sprintf("StuckSince %s until %s", partner, until.Format(time.DateTime)), "StuckSince", nil, sql, args)
		}
	}
	return cases
}
