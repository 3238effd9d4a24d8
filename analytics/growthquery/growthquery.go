// Package growthquery owns the ClickHouse side of the admin growth metrics: which partners
// were active (any 2xx call at the edge) in which UTC week and month, and each partner's
// live revenue and sandbox volume per day, week or month. Builders return SQL and
// arguments (every value a `?` argument, the database name quoted); Store runs them.
//
// Both answers are per partner: the control plane splits them by referral source and
// signup cohort, which live in PostgreSQL, so ClickHouse never needs partner attributes.
// Activity needs no deduplication: a request stored twice makes the same (partner, week,
// month) row, and GROUP BY keeps one. Orders read order_rollup_1d, whose cells hold sets
// of (event_id, amount_cents), so an event stored twice counts once (see orderquery).
package growthquery

import (
	"errors"
	"fmt"
	"time"

	"github.com/steller/platform/analytics/orderevent"
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

// ActivePartners returns the SQL and arguments of the (partner_id, week, month) triples
// with at least one 2xx request in [from, to): week is the Monday and month the first day
// (both Date, UTC) of the request's time. A week that spans two months yields two rows.
// Rows are ordered by partner_id, week, month.
func ActivePartners(database string, from, to time.Time) (string, []any) {
	sql := "SELECT partner_id, toMonday(ts, 'UTC') AS week, toStartOfMonth(ts, 'UTC') AS month" +
		" FROM " + warehouse.QuoteIdentifier(database) + "." + schema.RequestLogsTable +
		" WHERE ts >= ? AND ts < ? AND status >= 200 AND status < 300" +
		" GROUP BY partner_id, week, month ORDER BY partner_id, week, month"
	return sql, []any{from.UTC(), to.UTC()}
}

// bucketOf is the expression of a rollup day's bucket for interval.
func bucketOf(interval string) (string, error) {
	switch interval {
	case Day:
		return "day", nil
	case Week:
		return "toMonday(day)", nil
	case Month:
		return "toStartOfMonth(day)", nil
	}
	return "", fmt.Errorf("%w: interval %q is not day, week or month", ErrInvalid, interval)
}

// dayFormat is how days are bound: compared with toDate(?), which both engines parse.
const dayFormat = "2006-01-02"

// Orders returns the SQL and arguments of each partner's live revenue and sandbox volume
// per bucket of interval over the UTC days of [from, to) (times of day are ignored), or an
// error for an unknown interval. Columns: partner_id, bucket (Date), environment,
// currency, orders (distinct events), cents (their exact sum). Live rows count
// order.completed events (revenue, on the day completed); sandbox rows count
// order.created events (volume, on the day created). Rows with no order are absent;
// ordered by partner_id, bucket, environment, currency.
func Orders(database, interval string, from, to time.Time) (string, []any, error) {
	bucket, err := bucketOf(interval)
	if err != nil {
		return "", nil, err
	}
	const cell = "partner_id, bucket, environment, currency"
	sql := "SELECT " + cell + ", length(groupUniqArrayMerge(events)) AS orders" +
		", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents" +
		" FROM (SELECT partner_id, " + bucket + " AS bucket, environment, currency, events" +
		" FROM " + warehouse.QuoteIdentifier(database) + "." + schema.OrderRollupTable +
		" WHERE day >= toDate(?) AND day < toDate(?)" +
		" AND ((environment = ? AND type = ?) OR (environment = ? AND type = ?)))" +
		" GROUP BY " + cell + " ORDER BY " + cell
	args := []any{utcDay(from).Format(dayFormat), utcDay(to).Format(dayFormat),
		EnvLive, orderevent.TypeCompleted, EnvSandbox, orderevent.TypeCreated}
	return sql, args, nil
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
