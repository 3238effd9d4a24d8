package growthquery_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/analytics/growthquery/growthtest"
	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/orderquery/ordertest"
	"github.com/steller/platform/analytics/ordertotals"
	"github.com/steller/platform/analytics/schema/schematest"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/chcurrent"
)

// newEngines is one database on 18.16 and the same on current ClickHouse, every migration
// applied.
func newEngines(t *testing.T) growthtest.Engines {
	t.Helper()
	tw := schematest.NewTwin(t)
	return growthtest.Engines{Conn: tw.Old.Conn, Database: tw.Database, Current: tw.Cur}
}

// requests makes n rows of five partners, one every step from start, with statuses of
// every class (2xx at the edges of the class too).
func requests(n int, start time.Time, step time.Duration) []growthtest.Request {
	statuses := []uint16{200, 201, 299, 300, 404, 429, 500, 199, 204}
	out := make([]growthtest.Request, n)
	for i := range out {
		out[i] = growthtest.Request{
			RequestID: fmt.Sprintf("req_g_%05d", i), PartnerID: fmt.Sprintf("ptr_g_%d", (i*7)%5),
			At: start.Add(time.Duration(i) * step), Status: statuses[i%len(statuses)],
		}
	}
	out[3].PartnerID = `ptr_'q"\?` // escaping on the way
	out[3].Status = 200
	return out
}

func monday(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

func firstOfMonth(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func bucketOf(interval string, d time.Time) time.Time {
	return map[string]time.Time{"day": d, "week": monday(d), "month": firstOfMonth(d)}[interval]
}

// segments gives the test's partners their cells; ptr_g_4 is not among them (a partner
// the report leaves out), and ptr_g_0 and ptr_g_2 share a cell.
var segments = []growthquery.Segment{
	{PartnerID: "ptr_g_0", Source: "REF-A", Cohort: time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC), InRange: true},
	{PartnerID: "ptr_g_1", Source: "none", Cohort: time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC)},
	{PartnerID: "ptr_g_2", Source: "REF-A", Cohort: time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC), InRange: true},
	{PartnerID: "ptr_g_3", Source: "REF-'B", Cohort: time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC), InRange: true},
	{PartnerID: `ptr_'q"\?`, Source: "none", Cohort: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
	{PartnerID: "ptr_c_0", Source: "REF-A", Cohort: time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC)},
	{PartnerID: "ptr_c_1", Source: "REF-'B", Cohort: time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC)},
}

func cellOf(partner string) (growthquery.Cell, bool) {
	for _, s := range segments {
		if s.PartnerID == partner {
			return growthquery.Cell{Source: s.Source, Cohort: s.Cohort, InRange: s.InRange}, true
		}
	}
	return growthquery.Cell{}, false
}

func compareCells(a, b growthquery.Cell) int {
	return cmp.Or(cmp.Compare(a.Source, b.Source), a.Cohort.Compare(b.Cohort), cmp.Compare(b2i(a.InRange), b2i(b.InRange)))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// expectedActivity computes ActivePartners' answer from the raw rows in Go: the distinct
// partners of segments with a 2xx request on the UTC days of [from, to), per cell and
// bucket of period, for the buckets that start in the range.
func expectedActivity(rows []growthtest.Request, period string, from, to time.Time) []growthquery.Active {
	type key struct {
		cell   growthquery.Cell
		bucket time.Time
	}
	members := map[key]map[string]bool{}
	from, to = utcDay(from), utcDay(to)
	for _, r := range rows {
		d := utcDay(r.At)
		cell, ok := cellOf(r.PartnerID)
		if !ok || d.Before(from) || !d.Before(to) || r.Status < 200 || r.Status >= 300 {
			continue
		}
		k := key{cell, bucketOf(period, d)}
		if k.bucket.Before(from) {
			continue
		}
		if members[k] == nil {
			members[k] = map[string]bool{}
		}
		members[k][r.PartnerID] = true
	}
	var out []growthquery.Active
	for k, m := range members {
		out = append(out, growthquery.Active{Cell: k.cell, Bucket: k.bucket, Partners: uint64(len(m))})
	}
	slices.SortFunc(out, func(a, b growthquery.Active) int {
		return cmp.Or(compareCells(a.Cell, b.Cell), a.Bucket.Compare(b.Bucket))
	})
	return out
}

// expectedOrders computes Orders' answer from the raw events (duplicates included) in Go.
func expectedOrders(events []orderevent.Event, interval string, from, to time.Time) []growthquery.Order {
	type key struct {
		cell   growthquery.Cell
		bucket time.Time
		env    string
		cur    string
	}
	seen := map[string]bool{}
	cells := map[key]*growthquery.Order{}
	for _, e := range events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		d := utcDay(time.UnixMilli(e.OccurredAtMs))
		cell, ok := cellOf(e.PartnerID)
		if !ok || d.Before(from) || !d.Before(to) {
			continue
		}
		if !(e.Environment == "live" && e.Type == orderevent.TypeCompleted) && !(e.Environment == "test" && e.Type == orderevent.TypeCreated) {
			continue
		}
		k := key{cell, bucketOf(interval, d), e.Environment, e.Currency}
		o := cells[k]
		if o == nil {
			o = &growthquery.Order{Cell: cell, Bucket: k.bucket, Environment: e.Environment, Currency: e.Currency}
			cells[k] = o
		}
		o.Orders++
		o.Cents += e.AmountCents
	}
	var out []growthquery.Order
	for _, o := range cells {
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b growthquery.Order) int {
		return cmp.Or(compareCells(a.Cell, b.Cell), a.Bucket.Compare(b.Bucket), cmp.Compare(a.Environment, b.Environment),
			cmp.Compare(a.Currency, b.Currency))
	})
	return out
}

// segmentsTable stores segments as a table of the test database on both engines, for the
// builders' parity checks (Store sends them as an external table instead).
func segmentsTable(t *testing.T, eng growthtest.Engines) string {
	t.Helper()
	ctx := context.Background()
	table := warehouse.QuoteIdentifier(eng.Database) + ".segments"
	create := "CREATE TABLE " + table + " (partner_id String, source String, cohort Date, in_range UInt8) ENGINE = Memory"
	insert := "INSERT INTO " + table + " (partner_id, source, cohort, in_range) VALUES" // for current ClickHouse
	var args []any
	for i, s := range segments {
		if i > 0 {
			insert += ","
		}
		insert += " (?, ?, toDate(?), ?)"
		args = append(args, s.PartnerID, s.Source, s.Cohort.Format(time.DateOnly), uint8(b2i(s.InRange)))
	}
	require.NoError(t, eng.Conn.Exec(ctx, create))
	batch, err := eng.Conn.PrepareBatch(ctx, "INSERT INTO "+table+" (partner_id, source, cohort, in_range)") // an Exec of VALUES with arguments hangs on 18.16
	require.NoError(t, err)
	for _, s := range segments {
		require.NoError(t, batch.Append(s.PartnerID, s.Source, s.Cohort, uint8(b2i(s.InRange))))
	}
	require.NoError(t, batch.Send())
	require.NoError(t, eng.Current.Exec(ctx, create))
	require.NoError(t, eng.Current.Exec(ctx, insert, args...))
	return table
}

// closeBuckets computes and marks the totals of buckets on both engines, dated at (Unix
// seconds), as the closer does on its server's clock.
func closeBuckets(t *testing.T, eng growthtest.Engines, buckets []ordertotals.Bucket, at int64) {
	t.Helper()
	ctx := context.Background()
	for _, b := range buckets {
		compute, computeArgs := ordertotals.Compute(eng.Database, b.Period, b.Start, at)
		mark, markArgs := ordertotals.Mark(eng.Database, b.Period, b.Start, at)
		require.NoError(t, eng.Conn.Exec(ctx, compute, computeArgs...))
		require.NoError(t, eng.Conn.Exec(ctx, mark, markArgs...))
		require.NoError(t, eng.Current.Exec(ctx, compute, computeArgs...))
		require.NoError(t, eng.Current.Exec(ctx, mark, markArgs...))
	}
}

// closedBuckets lists the closed buckets of period on 18.16.
func closedBuckets(t *testing.T, eng growthtest.Engines, period string, from, to time.Time) []ordertotals.Bucket {
	t.Helper()
	list, args := ordertotals.ClosedBucketList(eng.Database, period, from, to)
	r, err := eng.Conn.Query(context.Background(), list+" ORDER BY bucket", args...)
	require.NoError(t, err)
	defer r.Close()
	var out []ordertotals.Bucket
	for r.Next() {
		var d time.Time
		require.NoError(t, r.Scan(&d))
		out = append(out, ordertotals.Bucket{Period: period, Start: utcDay(d)})
	}
	require.NoError(t, r.Err())
	return out
}

// Every builder answers the same on 18.16 and current ClickHouse, and Store's answers
// equal the figures computed in Go from the raw rows, though some rows and events were
// stored twice or three times, and though orders come partly from the totals of closed
// days, one of them reopened by a late event.
func TestBuildersAnswerOnBothEnginesAsComputedFromRawRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := newEngines(t)
	start := time.Date(2026, 2, 20, 7, 0, 0, 0, time.UTC) // across weeks that span a month boundary
	rows := requests(400, start, 3*time.Hour+17*time.Minute)
	eng.InsertRequests(t, rows)
	eng.InsertRequests(t, rows[:150]) // a replayed batch
	events := ordertest.Events("g", 80, start, 13*time.Hour)
	eng.InsertOrders(t, events[:100])
	eng.InsertOrders(t, events[:40])

	// Close every other day, and every week and month, of the first events' span, dated a
	// second after the inserts, and wait for the server's clock to pass that second, so
	// later inserts reopen what they touch.
	var closing []ordertotals.Bucket
	last := utcDay(time.UnixMilli(events[99].OccurredAtMs))
	for _, period := range ordertotals.Periods {
		step := 1
		if period == ordertotals.Day {
			step = 2
		}
		b, err := ordertotals.Start(period, start)
		require.NoError(t, err)
		for i := 0; b.Before(last); i++ {
			if i%step == 0 {
				closing = append(closing, ordertotals.Bucket{Period: period, Start: b})
			}
			b = ordertotals.Next(period, b)
		}
	}
	at := time.Now().Unix() + 1
	closeBuckets(t, eng, closing, at)
	require.Eventually(t, func() bool {
		var now time.Time
		return eng.Conn.QueryRow(ctx, "SELECT now()").Scan(&now) == nil && now.Unix() > at
	}, 10*time.Second, 50*time.Millisecond)
	late := events[24] // a new event on a closed day that nothing else touches: reopens it
	late.EventID, late.AmountCents = "evt_late", 12_345
	lateDay := utcDay(time.UnixMilli(late.OccurredAtMs))
	require.Contains(t, closing, ordertotals.Bucket{Period: ordertotals.Day, Start: lateDay})
	for _, e := range slices.Concat(events[100:], events[:7]) {
		require.NotEqual(t, utcDay(time.UnixMilli(e.OccurredAtMs)), lateDay)
	}
	eng.InsertOrders(t, append([]orderevent.Event{late}, events[100:]...))
	eng.InsertOrders(t, events[:7])
	allEvents := slices.Concat(events, events[:40], events[:7], []orderevent.Event{late})

	// Still closed: the closed buckets no later insert touched, of every period.
	reopened := map[ordertotals.Bucket]bool{}
	for _, e := range slices.Concat([]orderevent.Event{late}, events[100:], events[:7]) {
		for _, period := range ordertotals.Periods {
			b, err := ordertotals.Start(period, time.UnixMilli(e.OccurredAtMs))
			require.NoError(t, err)
			reopened[ordertotals.Bucket{Period: period, Start: b}] = true
		}
	}
	for _, period := range ordertotals.Periods {
		var stillClosed []ordertotals.Bucket
		for _, b := range closing {
			if b.Period == period && !reopened[b] {
				stillClosed = append(stillClosed, b)
			}
		}
		if period != ordertotals.Month { // every month of the span got a late event
			require.NotEmpty(t, stillClosed, period)
		}
		assert.Equal(t, stillClosed, closedBuckets(t, eng, period, start.AddDate(0, -1, 0), start.AddDate(0, 3, 0)),
			"closed %ss: the closed ones no later insert touched", period)
	}

	store, err := growthquery.New(eng.Conn, eng.Database)
	require.NoError(t, err)

	// same runs one statement on both engines and requires equal answers.
	same := func(t *testing.T, sql string, args []any) {
		t.Helper()
		r, err := eng.Conn.Query(ctx, sql, args...)
		require.NoError(t, err, "18.16")
		want, err := chcurrent.Collect(r)
		require.NoError(t, err)
		got, err := eng.Current.Query(ctx, sql, args...)
		require.NoError(t, err, "current ClickHouse %s", eng.Current.Version())
		require.NotEmpty(t, want.Rows, "the case must have rows to compare")
		assert.Equal(t, want.Columns, got.Columns, "columns: 18.16 (expected) and current ClickHouse (actual)")
		assert.Equal(t, want.Rows, got.Rows, "rows: 18.16 (expected) and current ClickHouse (actual)")
	}
	table := segmentsTable(t, eng)
	ranges := map[string][2]time.Time{
		"whole":                  {start.Add(-time.Hour), start.AddDate(0, 3, 0)},
		"mid-week":               {time.Date(2026, 2, 25, 13, 0, 0, 0, time.UTC), time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)},
		"a weekend and a monday": {time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
	}
	for name, r := range ranges {
		for _, interval := range []string{growthquery.Day, growthquery.Week, growthquery.Month} {
			t.Run("active/"+name+"/"+interval, func(t *testing.T) {
				sql, args, err := growthquery.ActivePartners(eng.Database, table, interval, r[0], r[1])
				require.NoError(t, err)
				same(t, sql, args)
				got, err := store.ActivePartners(ctx, segments, interval, r[0], r[1])
				require.NoError(t, err)
				want := expectedActivity(rows, interval, r[0], r[1])
				require.NotEmpty(t, want)
				assert.Equal(t, want, got)
			})
			t.Run("orders/"+name+"/"+interval, func(t *testing.T) {
				sql, args, err := growthquery.Orders(eng.Database, table, interval, r[0], r[1])
				require.NoError(t, err)
				same(t, sql, args)
				got, err := store.Orders(ctx, segments, interval, r[0], r[1])
				require.NoError(t, err)
				want := expectedOrders(allEvents, interval, utcDay(r[0]), utcDay(r[1]))
				require.NotEmpty(t, want)
				assert.Equal(t, want, got)
			})
		}
	}
	_, err = store.Orders(ctx, segments, growthquery.Week, start, start)
	assert.ErrorIs(t, err, growthquery.ErrInvalid, "an empty range is refused")
	_, err = store.ActivePartners(ctx, segments, "hour", start, start.AddDate(0, 0, 1))
	assert.ErrorIs(t, err, growthquery.ErrInvalid, "an unknown period is refused")
	none, err := store.Orders(ctx, nil, growthquery.Week, start, start.AddDate(0, 1, 0))
	require.NoError(t, err)
	assert.Empty(t, none, "no segment, no figure")
}
