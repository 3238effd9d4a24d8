// Package growthquery owns the ClickHouse side of the admin growth metrics: how many
// partners were active (any 2xx call at the edge) per UTC week or month, and the live
// revenue and sandbox volume per day, week or month, each per referral source and weekly
// signup cohort. Builders return SQL and arguments (every value a `?` argument, the
// database name quoted); Store runs them.
//
// Sources and cohorts live in PostgreSQL. The control plane sends them with each query
// as an external table (partner_segments: partner_id, source, cohort, in_range), which the query
// joins, so ClickHouse answers with one row per segment and bucket instead of one per
// partner, and never stores partner attributes. Each partner is in one (source, cohort)
// cell, so the control plane adds cells up into totals, sources and cohorts.
//
// Neither read scales with the number of requests or order events. Activity reads
// partner_activity (migration 0008: one row per partner, UTC day, week or month, and
// environment with a 2xx call), which needs no deduplication: a request stored twice
// writes the same row, and uniqExact counts a partner once. Orders read the exact totals
// of closed days, weeks and months from order_totals and every other bucket from
// order_rollup_1d, whose cells hold sets of (event_id, amount_cents), so an event stored
// twice counts once (see ordertotals).
package growthquery

import (
	"errors"
	"fmt"
	"time"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/ordertotals"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
)

// Intervals of the order buckets.
const (
	// Day buckets by UTC day.
	Day = "day"
	// Week buckets by UTC week starting on Monday.
	Week = "week"
	// Month buckets by UTC calendar month.
	Month = "month"
)

// Environments whose orders are read: live revenue (completed live orders) and sandbox
// volume (created test orders) are kept apart, never added.
const (
	// EnvLive is the environment of live orders.
	EnvLive = "live"
	// EnvSandbox is the environment of sandbox (test) orders.
	EnvSandbox = "test"
)

// ErrInvalid is wrapped by the errors of invalid ranges and intervals.
var ErrInvalid = errors.New("growthquery: invalid query")

// validRange reports whether [from, to) is a non-empty range.
func validRange(from, to time.Time) error {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return fmt.Errorf("%w: from (%s) must be before to (%s)", ErrInvalid, from, to)
	}
	return nil
}

// ActivityTable is the partner-activity rollup of migration 0008: rows of period day,
// week and month.
const ActivityTable = "partner_activity"

// SegmentsTable is the name of the external table Store sends with each query: one row
// per partner of the report, with its source and cohort.
const SegmentsTable = "partner_segments"

// joinSegments joins the rows of a subquery with a partner_id column to their partner's
// source and cohort; partners missing from segments are left out. ALL, not ANY: current
// ClickHouse's ANY INNER JOIN keeps one left row per key too (18.16's kept every left
// row); segments has one row per partner, so ALL matches each row once on both. Current
// ClickHouse requires the aliases of joined subqueries, which 18.16 accepts.
func joinSegments(segments string) string {
	return " AS facts ALL INNER JOIN (SELECT partner_id, source, cohort, in_range FROM " + segments + ") AS segments USING partner_id"
}

// ActivePartners returns the SQL and arguments of the number of distinct partners with at
// least one 2xx request in each bucket of period (Day, Week or Month) over the UTC days of
// [from, to) (times of day are ignored), per cell of segments (a table expression with
// partner_id, source, cohort and in_range; SegmentsTable in production), or an error for
// an unknown period. Only buckets that start in the range are answered; a last bucket
// that runs past to counts the activity of its days before to. Columns: source, cohort,
// in_range, bucket (Date), partners. Ordered by source, cohort, in_range, bucket.
//
// Whole buckets are read from the period's own rows; the last bucket, when to cuts it,
// from the day rows of its days in the range, so no read scales with the days of a range.
func ActivePartners(database, segments, period string, from, to time.Time) (string, []any, error) {
	bucket, err := bucketOf(period, "bucket")
	if err != nil {
		return "", nil, err
	}
	from, to = utcDay(from), utcDay(to)
	// The bucket holding the range's last day: cut when it ends after to, and then read
	// from day rows if it starts in the range (a bucket that starts before is not answered).
	cut := start(period, to.AddDate(0, 0, -1))
	wholeEnd, cutFrom := to, to
	if end := startNext(period, cut); end.After(to) {
		wholeEnd = maxTime(from, cut)
		if !cut.Before(from) {
			cutFrom = cut
		}
	}
	table := warehouse.QuoteIdentifier(database) + "." + ActivityTable
	// The day rows' bucket is named b, not bucket: ClickHouse would read the alias in
	// WHERE, filtering on the day's period instead of the day.
	sql := "SELECT source, cohort, in_range, b AS bucket, uniqExact(partner_id) AS partners FROM (" +
		"SELECT partner_id, bucket AS b FROM " + table + " WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)" +
		" UNION ALL SELECT partner_id, " + bucket + " AS b FROM " + table +
		" WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?))" + joinSegments(segments) +
		" GROUP BY source, cohort, in_range, bucket ORDER BY source, cohort, in_range, bucket"
	return sql, []any{period, from.Format(dayFormat), wholeEnd.Format(dayFormat),
		Day, cutFrom.Format(dayFormat), to.Format(dayFormat)}, nil
}

// start is the UTC start of the period holding day d (period already checked).
func start(period string, d time.Time) time.Time {
	b, _ := ordertotals.Start(period, d)
	return b
}

// startNext is the start of the period after the one starting at b.
func startNext(period string, b time.Time) time.Time { return ordertotals.Next(period, b) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// bucketOf is the expression of the bucket of interval holding the Date column.
func bucketOf(interval, column string) (string, error) {
	switch interval {
	case Day:
		return column, nil
	case Week:
		return "toMonday(" + column + ")", nil
	case Month:
		return "toStartOfMonth(" + column + ")", nil
	}
	return "", fmt.Errorf("%w: interval %q is not day, week or month", ErrInvalid, interval)
}

// dayFormat is how days are bound: compared with toDate(?), which both engines parse.
const dayFormat = "2006-01-02"

// Orders returns the SQL and arguments of the live revenue and sandbox volume per bucket
// of interval over the UTC days of [from, to) (times of day are ignored), per cell of
// segments (as in ActivePartners), or an error for an unknown interval. Columns: source,
// cohort, in_range, bucket (Date), environment, currency, orders (distinct events),
// cents (their exact sum). Live rows count order.completed events (revenue, on the day
// completed); sandbox rows count order.created events (volume, on the day created).
// Rows with no order are absent; ordered by source, cohort, in_range, bucket, environment,
// currency.
//
// Closed buckets that lie wholly in the range come from the totals of their latest
// computation, one row per partner and cell for the whole bucket; every other bucket
// (open, or cut by the range) from the rollup's sets of its days in the range, whose
// PREWHERE skips the closed buckets' sets unread (see ordertotals).
func Orders(database, segments, interval string, from, to time.Time) (string, []any, error) {
	bucket, err := bucketOf(interval, "day")
	if err != nil {
		return "", nil, err
	}
	from, to = utcDay(from), utcDay(to)
	wholeEnd := to
	if cut := start(interval, to.AddDate(0, 0, -1)); startNext(interval, cut).After(to) {
		wholeEnd = maxTime(from, cut)
	}
	const cell = "partner_id, bucket, environment, currency"
	const out = "source, cohort, in_range, bucket, environment, currency"
	const pairs = " AND ((environment = ? AND type = ?) OR (environment = ? AND type = ?))"
	db := warehouse.QuoteIdentifier(database)
	pairArgs := []any{EnvLive, orderevent.TypeCompleted, EnvSandbox, orderevent.TypeCreated}
	closed, closedArgs := ordertotals.ClosedBuckets(database, interval, from, wholeEnd)
	closedList, listArgs := ordertotals.ClosedBucketList(database, interval, from, wholeEnd)
	sql := "SELECT " + out + ", sum(orders) AS orders, sum(cents) AS cents FROM (" +
		"SELECT partner_id, bucket, environment, currency, orders, cents" +
		" FROM " + db + "." + ordertotals.TotalsTable +
		" WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)" + pairs +
		" AND (bucket, computed_at) IN (" + closed + ")" +
		" UNION ALL SELECT " + cell + ", length(groupUniqArrayMerge(events)) AS orders" +
		", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents" +
		" FROM (SELECT partner_id, " + bucket + " AS bucket, environment, currency, events" +
		" FROM " + db + "." + schema.OrderRollupTable +
		" PREWHERE " + bucket + " NOT IN (" + closedList + ")" +
		" WHERE day >= toDate(?) AND day < toDate(?)" + pairs + ")" +
		" GROUP BY " + cell + ")" + joinSegments(segments) +
		" GROUP BY " + out + " ORDER BY " + out
	var args []any
	for _, part := range [][]any{{interval, from.Format(dayFormat), wholeEnd.Format(dayFormat)}, pairArgs, closedArgs,
		listArgs, {from.Format(dayFormat), to.Format(dayFormat)}, pairArgs} {
		args = append(args, part...)
	}
	return sql, args, nil
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
