package ordertotals_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/growthquery/growthtest"
	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/orderquery/ordertest"
	"github.com/steller/platform/analytics/ordertotals"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/testenv"
)

func TestBuildersSQLAndArgs(t *testing.T) {
	t.Parallel()
	d := time.Date(2026, 3, 2, 0, 30, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-01 23:30 UTC
	to := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	const closed = " FROM `st\\`ller`.order_days WHERE day >= toDate(?) AND day < toDate(?)" +
		" GROUP BY day HAVING maxMerge(computed_at) > maxMerge(touched_at)"
	cases := []struct {
		name string
		sql  string
		args []any
		want string
		wArg []any
	}{
		{name: "closed days", want: "SELECT day, maxMerge(computed_at)" + closed, wArg: []any{"2026-03-01", "2026-03-09"}},
		{name: "closed day list", want: "SELECT day" + closed, wArg: []any{"2026-03-01", "2026-03-09"}},
		{name: "stale days", want: "SELECT day FROM `st\\`ller`.order_days WHERE day < toDate(?)" +
			" GROUP BY day HAVING maxMerge(computed_at) <= maxMerge(touched_at) ORDER BY day", wArg: []any{"2026-03-01"}},
		{name: "compute day", want: "INSERT INTO `st\\`ller`.order_totals_1d" +
			" (environment, type, day, partner_id, product_id, currency, computed_at, orders, cents)" +
			" SELECT environment, type, day, partner_id, product_id, currency, toDateTime(?)," +
			" length(groupUniqArrayMerge(events)), arraySum(x -> x.2, groupUniqArrayMerge(events))" +
			" FROM `st\\`ller`.order_rollup_1d WHERE day = toDate(?)" +
			" GROUP BY environment, type, day, partner_id, product_id, currency", wArg: []any{int64(1772409600), "2026-03-01"}},
		{name: "mark day", want: "INSERT INTO `st\\`ller`.order_days (day, touched_at, computed_at)" +
			" SELECT toDate(?), maxState(toDateTime(0)), maxState(toDateTime(?))", wArg: []any{"2026-03-01", int64(1772409600)}},
	}
	cases[0].sql, cases[0].args = ordertotals.ClosedDays("st`ller", d, to)
	cases[1].sql, cases[1].args = ordertotals.ClosedDayList("st`ller", d, to)
	cases[2].sql, cases[2].args = ordertotals.StaleDays("st`ller", d)
	cases[3].sql, cases[3].args = ordertotals.ComputeDay("st`ller", d, 1772409600)
	cases[4].sql, cases[4].args = ordertotals.MarkDay("st`ller", d, 1772409600)
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.sql, tc.name)
		assert.Equal(t, tc.wArg, tc.args, tc.name)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := ordertotals.New(ordertotals.Config{Interval: -time.Second})
	require.Error(t, err)
	for _, want := range []string{"connection is required", "database is required", "must not be negative"} {
		assert.ErrorContains(t, err, want)
	}
}

// serverNow reads the ClickHouse server's clock, which stamps touched_at.
func serverNow(t *testing.T, ch testenv.ClickHouse) time.Time {
	t.Helper()
	var now time.Time
	require.NoError(t, ch.Conn.QueryRow(context.Background(), "SELECT now()").Scan(&now))
	return now
}

// awaitClockPast waits until the server's clock is two seconds past after, so that a run
// with a one-nanosecond margin dates its computation (whole seconds, a second before it
// starts) after every insert made before after.
func awaitClockPast(t *testing.T, ch testenv.ClickHouse, after time.Time) {
	t.Helper()
	require.Eventually(t, func() bool { return serverNow(t, ch).Unix() >= after.Unix()+2 }, 10*time.Second, 50*time.Millisecond)
}

// totals reads the figures of each closed day's latest computation: distinct events and
// cents per day and type, summed over partners, products and currencies.
func totals(t *testing.T, ch testenv.ClickHouse, from, to time.Time) map[string][2]int64 {
	t.Helper()
	closed, args := ordertotals.ClosedDays(ch.Database, from, to)
	rows, err := ch.Conn.Query(context.Background(), "SELECT toString(day), type, sum(orders), sum(cents) FROM "+
		warehouse.QuoteIdentifier(ch.Database)+"."+ordertotals.TotalsTable+" WHERE (day, computed_at) IN ("+closed+")"+
		" GROUP BY day, type", args...)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var day, typ string
		var orders uint64
		var cents int64
		require.NoError(t, rows.Scan(&day, &typ, &orders, &cents))
		out[day+" "+typ] = [2]int64{int64(orders), cents}
	}
	require.NoError(t, rows.Err())
	return out
}

// expectedTotals computes totals' answer from raw events (duplicates included) for days.
func expectedTotals(events []orderevent.Event, days ...time.Time) map[string][2]int64 {
	seen := map[string]bool{}
	out := map[string][2]int64{}
	for _, e := range events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		d := time.UnixMilli(e.OccurredAtMs).UTC().Truncate(24 * time.Hour)
		for _, want := range days {
			if d.Equal(want) {
				k := d.Format(time.DateOnly) + " " + e.Type
				out[k] = [2]int64{out[k][0] + 1, out[k][1] + e.AmountCents}
			}
		}
	}
	return out
}

// The closer computes ended days once, never today, and again only when an insert
// touched them; the totals equal what the raw events (some stored twice) add up to.
func TestCloserComputesEndedDaysOnceAndReopenedDaysAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	eng := growthtest.Engines{Conn: ch.Conn, Database: ch.Database}
	today := serverNow(t, ch).UTC().Truncate(24 * time.Hour)
	twoAgo, yesterday := today.AddDate(0, 0, -2), today.AddDate(0, 0, -1)
	// 24 orders every three hours from two days ago: events on all three days.
	events := ordertest.Events("c", 24, twoAgo.Add(time.Hour), 3*time.Hour)
	eng.InsertOrders(t, events)
	eng.InsertOrders(t, events[:9]) // a redelivery
	closer, err := ordertotals.New(ordertotals.Config{Conn: ch.Conn, Database: ch.Database, Margin: time.Nanosecond})
	require.NoError(t, err)

	awaitClockPast(t, ch, time.Now())
	done, err := closer.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, []time.Time{twoAgo, yesterday}, utc(done), "the ended days, not today")
	want := expectedTotals(events, twoAgo, yesterday)
	require.NotEmpty(t, want)
	assert.Equal(t, want, totals(t, ch, twoAgo, today.AddDate(0, 0, 1)))

	done, err = closer.RunOnce(ctx)
	require.NoError(t, err)
	assert.Empty(t, done, "closed days are not computed again")

	late := events[0] // a new event two days ago, stored after its day was closed
	late.EventID, late.AmountCents = "evt_late", 7
	eng.InsertOrders(t, []orderevent.Event{late})
	assert.Equal(t, expectedTotals(events, yesterday), totals(t, ch, twoAgo, today),
		"the touched day is open at once, so readers take it from the rollup")
	awaitClockPast(t, ch, time.Now())
	done, err = closer.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, []time.Time{twoAgo}, utc(done), "only the touched day again")
	all := append([]orderevent.Event{late}, events...)
	assert.Equal(t, expectedTotals(all, twoAgo, yesterday), totals(t, ch, twoAgo, today))
}

func utc(days []time.Time) []time.Time {
	out := make([]time.Time, len(days))
	for i, d := range days {
		out[i] = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	}
	return out
}
