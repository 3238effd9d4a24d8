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
	d := time.Date(2026, 3, 5, 0, 30, 0, 0, time.FixedZone("CET", 3600)) // 2026-03-04 23:30 UTC, a Wednesday
	to := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	const closed = " FROM `st\\`ller`.order_periods WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)" +
		" GROUP BY bucket HAVING maxMerge(computed_at) > maxMerge(touched_at)"
	const stale = "SELECT bucket FROM `st\\`ller`.order_periods WHERE period = ? AND bucket < toDate(?)" +
		" GROUP BY bucket HAVING maxMerge(computed_at) <= maxMerge(touched_at) ORDER BY bucket"
	compute := func(bucket string) string {
		return "INSERT INTO `st\\`ller`.order_totals" +
			" (period, environment, type, bucket, partner_id, product_id, currency, computed_at, orders, cents)" +
			" SELECT ?, environment, type, " + bucket + " AS b, partner_id, product_id, currency, toDateTime(?)," +
			" length(groupUniqArrayMerge(events)), arraySum(x -> x.2, groupUniqArrayMerge(events))" +
			" FROM `st\\`ller`.order_rollup_1d WHERE day >= toDate(?) AND day < toDate(?)" +
			" GROUP BY environment, type, b, partner_id, product_id, currency"
	}
	week := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	type built struct {
		sql  string
		args []any
	}
	b := func(sql string, args []any) built { return built{sql, args} }
	cases := []struct {
		name      string
		got, want built
	}{
		{"closed buckets", b(ordertotals.ClosedBuckets("st`ller", "week", d, to)),
			built{"SELECT bucket, maxMerge(computed_at)" + closed, []any{"week", "2026-03-04", "2026-03-09"}}},
		{"closed bucket list", b(ordertotals.ClosedBucketList("st`ller", "day", d, to)),
			built{"SELECT bucket" + closed, []any{"day", "2026-03-04", "2026-03-09"}}},
		{"stale days", b(ordertotals.StaleBuckets("st`ller", "day", d)), built{stale, []any{"day", "2026-03-04"}}},
		{"stale weeks: those before this week", b(ordertotals.StaleBuckets("st`ller", "week", d)), built{stale, []any{"week", "2026-03-02"}}},
		{"stale months", b(ordertotals.StaleBuckets("st`ller", "month", d)), built{stale, []any{"month", "2026-03-01"}}},
		{"compute a day", b(ordertotals.Compute("st`ller", "day", d, 1772409600)),
			built{compute("day"), []any{"day", int64(1772409600), "2026-03-04", "2026-03-05"}}},
		{"compute a week", b(ordertotals.Compute("st`ller", "week", week, 1772409600)),
			built{compute("toMonday(day)"), []any{"week", int64(1772409600), "2026-03-02", "2026-03-09"}}},
		{"compute a month", b(ordertotals.Compute("st`ller", "month", month, 1772409600)),
			built{compute("toStartOfMonth(day)"), []any{"month", int64(1772409600), "2026-03-01", "2026-04-01"}}},
		{"mark", b(ordertotals.Mark("st`ller", "week", week, 1772409600)),
			built{"INSERT INTO `st\\`ller`.order_periods (period, bucket, touched_at, computed_at)" +
				" SELECT ?, toDate(?), maxState(toDateTime(0)), maxState(toDateTime(?))", []any{"week", "2026-03-02", int64(1772409600)}}},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want.sql, tc.got.sql, tc.name)
		assert.Equal(t, tc.want.args, tc.got.args, tc.name)
	}
	_, err := ordertotals.Start("hour", d)
	assert.Error(t, err)
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

// totals reads the figures of each closed bucket's latest computation of period: distinct
// events and cents per bucket and type, summed over partners, products and currencies.
func totals(t *testing.T, ch testenv.ClickHouse, period string, from, to time.Time) map[string][2]int64 {
	t.Helper()
	closed, args := ordertotals.ClosedBuckets(ch.Database, period, from, to)
	rows, err := ch.Conn.Query(context.Background(), "SELECT toString(bucket), type, sum(orders), sum(cents) FROM "+
		warehouse.QuoteIdentifier(ch.Database)+"."+ordertotals.TotalsTable+" WHERE period = ? AND (bucket, computed_at) IN ("+closed+")"+
		" GROUP BY bucket, type", append([]any{period}, args...)...)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var bucket, typ string
		var orders uint64
		var cents int64
		require.NoError(t, rows.Scan(&bucket, &typ, &orders, &cents))
		out[bucket+" "+typ] = [2]int64{int64(orders), cents}
	}
	require.NoError(t, rows.Err())
	return out
}

// expectedTotals computes totals' answer from raw events (duplicates included) for the
// buckets of period.
func expectedTotals(events []orderevent.Event, period string, buckets ...time.Time) map[string][2]int64 {
	seen := map[string]bool{}
	out := map[string][2]int64{}
	for _, e := range events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		b, _ := ordertotals.Start(period, time.UnixMilli(e.OccurredAtMs))
		for _, want := range buckets {
			if b.Equal(want) {
				k := b.Format(time.DateOnly) + " " + e.Type
				out[k] = [2]int64{out[k][0] + 1, out[k][1] + e.AmountCents}
			}
		}
	}
	return out
}

// The closer computes ended days, weeks and months once, never the current ones, and again
// only when an insert touched them; the totals equal what the raw events (some stored
// twice) add up to.
func TestCloserComputesEndedPeriodsOnceAndReopenedOnesAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	eng := growthtest.Engines{Conn: ch.Conn, Database: ch.Database}
	today := serverNow(t, ch).UTC().Truncate(24 * time.Hour)
	thisWeek, err := ordertotals.Start(ordertotals.Week, today)
	require.NoError(t, err)
	thisMonth, err := ordertotals.Start(ordertotals.Month, today)
	require.NoError(t, err)
	lastWeek, lastMonth := thisWeek.AddDate(0, 0, -7), thisMonth.AddDate(0, -1, 0)
	twoAgo, yesterday := today.AddDate(0, 0, -2), today.AddDate(0, 0, -1)
	// Orders on the last two days and today, plus one in last month (and so last week, or
	// an earlier one) and one in last week: every period has an ended bucket.
	events := ordertest.Events("c", 24, twoAgo.Add(time.Hour), 3*time.Hour)
	events = append(events, ordertest.Events("m", 1, lastMonth.Add(36*time.Hour), time.Hour)...)
	events = append(events, ordertest.Events("w", 1, lastWeek.Add(30*time.Hour), time.Hour)...)
	eng.InsertOrders(t, events)
	eng.InsertOrders(t, events[:9]) // a redelivery
	closer, err := ordertotals.New(ordertotals.Config{Conn: ch.Conn, Database: ch.Database, Margin: time.Nanosecond})
	require.NoError(t, err)

	awaitClockPast(t, ch, time.Now())
	done, err := closer.RunOnce(ctx)
	require.NoError(t, err)
	// Every bucket with events that ended before the one holding today.
	ended := map[ordertotals.Bucket]bool{}
	for _, e := range events {
		for _, period := range ordertotals.Periods {
			b, err := ordertotals.Start(period, time.UnixMilli(e.OccurredAtMs))
			require.NoError(t, err)
			if current, _ := ordertotals.Start(period, today); b.Before(current) {
				ended[ordertotals.Bucket{Period: period, Start: b}] = true
			}
		}
	}
	assert.ElementsMatch(t, keys(ended), done, "the ended buckets, never the current ones")
	require.True(t, ended[ordertotals.Bucket{Period: ordertotals.Month, Start: lastMonth}])
	require.True(t, ended[ordertotals.Bucket{Period: ordertotals.Day, Start: yesterday}])
	for _, period := range ordertotals.Periods {
		var buckets []time.Time
		for b := range ended {
			if b.Period == period {
				buckets = append(buckets, b.Start)
			}
		}
		want := expectedTotals(events, period, buckets...)
		require.NotEmpty(t, want, period)
		assert.Equal(t, want, totals(t, ch, period, lastMonth, today.AddDate(0, 0, 1)), period)
	}

	done, err = closer.RunOnce(ctx)
	require.NoError(t, err)
	assert.Empty(t, done, "closed buckets are not computed again")

	late := events[len(events)-1] // a new event in last week, stored after it was closed
	late.EventID, late.AmountCents = "evt_late", 7
	eng.InsertOrders(t, []orderevent.Event{late})
	lateDay := time.UnixMilli(late.OccurredAtMs).UTC().Truncate(24 * time.Hour)
	assert.NotContains(t, totals(t, ch, ordertotals.Week, lastWeek, thisWeek), lastWeek.Format(time.DateOnly)+" "+late.Type,
		"the touched week is open at once, so readers take it from the rollup")
	awaitClockPast(t, ch, time.Now())
	done, err = closer.RunOnce(ctx)
	require.NoError(t, err)
	again := []ordertotals.Bucket{{Period: ordertotals.Day, Start: lateDay}, {Period: ordertotals.Week, Start: lastWeek}}
	if m, _ := ordertotals.Start(ordertotals.Month, lateDay); m.Before(thisMonth) {
		again = append(again, ordertotals.Bucket{Period: ordertotals.Month, Start: m})
	}
	assert.ElementsMatch(t, again, done, "only the touched buckets again")
	all := append([]orderevent.Event{late}, events...)
	assert.Equal(t, expectedTotals(all, ordertotals.Week, lastWeek), totals(t, ch, ordertotals.Week, lastWeek, thisWeek))
}

func keys(m map[ordertotals.Bucket]bool) []ordertotals.Bucket {
	out := make([]ordertotals.Bucket, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
