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
	"github.com/steller/platform/analytics/schema/schematest"
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

// expectedActivity computes ActivePartners' answer from the raw rows in Go.
func expectedActivity(rows []growthtest.Request, from, to time.Time) []growthquery.Activity {
	seen := map[growthquery.Activity]bool{}
	var out []growthquery.Activity
	for _, r := range rows {
		at := r.At.UTC().Truncate(time.Second)
		if at.Before(from) || !at.Before(to) || r.Status < 200 || r.Status >= 300 {
			continue
		}
		a := growthquery.Activity{PartnerID: r.PartnerID, Week: monday(at), Month: firstOfMonth(at)}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b growthquery.Activity) int {
		return cmp.Or(cmp.Compare(a.PartnerID, b.PartnerID), a.Week.Compare(b.Week), a.Month.Compare(b.Month))
	})
	return out
}

// expectedOrders computes Orders' answer from the raw events (duplicates included) in Go.
func expectedOrders(events []orderevent.Event, interval string, from, to time.Time) []growthquery.Order {
	type cell struct {
		partner string
		bucket  time.Time
		env     string
		cur     string
	}
	seen := map[string]bool{}
	cells := map[cell]*growthquery.Order{}
	for _, e := range events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		at := time.UnixMilli(e.OccurredAtMs).UTC()
		day := time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
		if day.Before(from) || !day.Before(to) {
			continue
		}
		if !(e.Environment == "live" && e.Type == orderevent.TypeCompleted) && !(e.Environment == "test" && e.Type == orderevent.TypeCreated) {
			continue
		}
		b := map[string]time.Time{"day": day, "week": monday(day), "month": firstOfMonth(day)}[interval]
		k := cell{e.PartnerID, b, e.Environment, e.Currency}
		o := cells[k]
		if o == nil {
			o = &growthquery.Order{PartnerID: e.PartnerID, Bucket: b, Environment: e.Environment, Currency: e.Currency}
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
		return cmp.Or(cmp.Compare(a.PartnerID, b.PartnerID), a.Bucket.Compare(b.Bucket), cmp.Compare(a.Environment, b.Environment),
			cmp.Compare(a.Currency, b.Currency))
	})
	return out
}

// Every builder answers the same on 18.16 and current ClickHouse, and Store's answers
// equal the figures computed in Go from the raw rows, though some rows and events were
// stored twice or three times.
func TestBuildersAnswerOnBothEnginesAsComputedFromRawRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eng := newEngines(t)
	start := time.Date(2026, 2, 20, 7, 0, 0, 0, time.UTC) // across weeks that span a month boundary
	rows := requests(400, start, 3*time.Hour+17*time.Minute)
	eng.InsertRequests(t, rows)
	eng.InsertRequests(t, rows[:150]) // a replayed batch
	events := ordertest.Events("g", 80, start, 13*time.Hour)
	eng.InsertOrders(t, events)
	eng.InsertOrders(t, events[:40])
	eng.InsertOrders(t, events[:7])
	allEvents := append(append(append([]orderevent.Event{}, events...), events[:40]...), events[:7]...)
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
	ranges := map[string][2]time.Time{
		"whole":       {start.Add(-time.Hour), start.AddDate(0, 3, 0)},
		"mid-week":    {time.Date(2026, 2, 25, 13, 0, 0, 0, time.UTC), time.Date(2026, 3, 19, 0, 0, 0, 0, time.UTC)},
		"one weekend": {time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
	}
	for name, r := range ranges {
		t.Run("active/"+name, func(t *testing.T) {
			sql, args := growthquery.ActivePartners(eng.Database, r[0], r[1])
			same(t, sql, args)
			got, err := store.ActivePartners(ctx, r[0], r[1])
			require.NoError(t, err)
			assert.Equal(t, expectedActivity(rows, r[0], r[1]), got)
		})
		for _, interval := range []string{growthquery.Day, growthquery.Week, growthquery.Month} {
			t.Run("orders/"+name+"/"+interval, func(t *testing.T) {
				sql, args, err := growthquery.Orders(eng.Database, interval, r[0], r[1])
				require.NoError(t, err)
				same(t, sql, args)
				got, err := store.Orders(ctx, interval, r[0], r[1])
				require.NoError(t, err)
				from := time.Date(r[0].Year(), r[0].Month(), r[0].Day(), 0, 0, 0, 0, time.UTC)
				to := time.Date(r[1].Year(), r[1].Month(), r[1].Day(), 0, 0, 0, 0, time.UTC)
				want := expectedOrders(allEvents, interval, from, to)
				require.NotEmpty(t, want)
				assert.Equal(t, want, got)
			})
		}
	}
	_, err = store.Orders(ctx, growthquery.Week, start, start)
	assert.ErrorIs(t, err, growthquery.ErrInvalid, "an empty range is refused")
}
