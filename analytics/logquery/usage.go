package logquery

import (
	"strconv"
	"time"

	"github.com/steller/platform/analytics/warehouse"
)

// Usage intervals: the size of one bucket of a usage series.
const (
	IntervalMinute = "minute"
	IntervalHour   = "hour"
	IntervalDay    = "day"
)

// MaxBuckets bounds how many buckets one usage query may span (a day of minutes, two
// months of hours, four years of days).
const MaxBuckets = 1440

// TopN is how many routes and errors the top lists hold.
const TopN = 10

// MaxPartners is the largest limit UsageByPartner accepts.
const MaxPartners = 1000

// UsageQuery asks for usage figures over [From, To). The rollup has one row per minute,
// so the range read is From rounded down and To rounded up to whole minutes (Window);
// the first and last buckets hold only their part inside that range.
type UsageQuery struct {
	// PartnerID limits the figures to one partner; empty means all partners (admins).
	PartnerID string
	// From and To bound the range; both are required.
	From, To time.Time
	// Interval is the series bucket: IntervalMinute, IntervalHour or IntervalDay.
	Interval string
}

// step returns the interval's bucket length, or 0 for an unknown interval.
func step(interval string) time.Duration {
	switch interval {
	case IntervalMinute:
		return time.Minute
	case IntervalHour:
		return time.Hour
	case IntervalDay:
		return 24 * time.Hour
	}
	return 0
}

// Validate reports every problem with the query as a ValidationError, or nil.
func (q UsageQuery) Validate() error {
	var p problems
	if q.PartnerID != "" && !cleanText(q.PartnerID, maxIDLen) {
		p.add("partner_id", "must be printable text of at most %d bytes", maxIDLen)
	}
	checkRange(&p, q.From, q.To, true)
	switch st := step(q.Interval); {
	case st == 0:
		p.add("interval", "must be minute, hour or day")
	case len(p) == 0:
		if n := len(q.Buckets()); n > MaxBuckets {
			p.add("interval", "the range spans %d buckets of a %s, at most %d: shorten it or use a longer interval", n, q.Interval, MaxBuckets)
		}
	}
	return p.err()
}

// Window returns the range of minutes the query reads: From rounded down and To rounded
// up to whole minutes, in UTC.
func (q UsageQuery) Window() (from, to time.Time) {
	return minuteWindow(q.From, q.To)
}

func minuteWindow(from, to time.Time) (time.Time, time.Time) {
	from, to = from.UTC().Truncate(time.Minute), to.UTC()
	if r := to.Truncate(time.Minute); r.Before(to) {
		to = r.Add(time.Minute)
	}
	return from, to
}

// Buckets returns the start of every bucket of the query's series, in order. Buckets
// start at whole minutes, hours or days of UTC, as ClickHouse's toStartOf functions
// compute them with the 'UTC' argument.
func (q UsageQuery) Buckets() []time.Time {
	st := step(q.Interval)
	from, to := q.Window()
	if st == 0 || !from.Before(to) {
		return nil
	}
	var out []time.Time
	for b := from.Truncate(st); b.Before(to); b = b.Add(st) {
		out = append(out, b)
		if len(out) > MaxBuckets {
			break // Validate only needs to know there are too many
		}
	}
	return out
}

// Exact counts: each rollup cell holds the set of its request ids, and a request's
// copies all fall into one cell, so merging the sets counts every request once.
// Latency quantiles and bytes come from states that do see a redelivered copy twice.
const (
	requestsExpr = "uniqExactMerge(request_ids)"
	errorsExpr   = "uniqExactMergeIf(request_ids, status >= 400)"
	latencyExpr  = "quantilesMerge(0.5, 0.95, 0.99)(latency_total_us)"
)

// bucketExpr returns the SQL expression of a rollup row's bucket. The time zone is named
// so that hours and days are UTC whatever the server's time zone.
func bucketExpr(interval string) string {
	switch interval {
	case IntervalHour:
		return "toStartOfHour(minute, 'UTC')"
	case IntervalDay:
		return "toStartOfDay(minute, 'UTC')"
	}
	return "minute"
}

// usageSQL returns SELECT selects over the rollup rows of q's partner (if any) and
// window, followed by rest.
func usageSQL(database string, q UsageQuery, selects, rest string) (string, []any) {
	from, to := q.Window()
	sql := "SELECT " + selects + " FROM " + warehouse.QuoteIdentifier(database) + ".request_rollup_1m WHERE "
	var args []any
	if q.PartnerID != "" {
		sql += "partner_id = ? AND "
		args = append(args, q.PartnerID)
	}
	return sql + "minute >= ? AND minute < ?" + rest, append(args, from, to)
}

// UsageSeries builds the query for requests and errors per bucket and environment,
// ordered by bucket and environment. Buckets without requests are absent. Each request
// lies in one bucket, so the per-environment totals are the sums of this series.
func UsageSeries(database string, q UsageQuery) (string, []any) {
	return usageSQL(database, q,
		bucketExpr(q.Interval)+" AS bucket, environment, "+requestsExpr+" AS request_count, "+errorsExpr+" AS error_count",
		" GROUP BY bucket, environment ORDER BY bucket, environment")
}

// UsageRoutes builds the query for every route's requests, errors and total latency
// p50, p95 and p99 (microseconds), busiest first. It serves both the latency table and
// the top routes: routes are the edge's route names (a fixed table plus "unknown"), so
// there are few, and one pass over the rollup is cheaper than two.
func UsageRoutes(database string, q UsageQuery) (string, []any) {
	return usageSQL(database, q,
		"route, "+requestsExpr+" AS request_count, "+errorsExpr+" AS error_count, "+latencyExpr+" AS latency_us",
		" GROUP BY route ORDER BY request_count DESC, route")
}

// UsageTopErrors builds the query for the TopN (route, status) pairs with a status of
// 400 or above, by requests.
func UsageTopErrors(database string, q UsageQuery) (string, []any) {
	return usageSQL(database, q,
		"route, status, "+requestsExpr+" AS error_count",
		" AND status >= 400 GROUP BY route, status ORDER BY error_count DESC, route, status LIMIT "+strconv.Itoa(TopN))
}

// UsageByPartner builds the admins' query for every partner's requests, errors and p95
// total latency (microseconds) over [from, to) rounded out to whole minutes, busiest
// first, at most limit partners.
func UsageByPartner(database string, from, to time.Time, limit int) (string, []any) {
	from, to = minuteWindow(from, to)
	return "SELECT partner_id, " + requestsExpr + " AS request_count, " + errorsExpr + " AS error_count, " +
			latencyExpr + "[2] AS p95_us FROM " + warehouse.QuoteIdentifier(database) + ".request_rollup_1m" +
			" WHERE minute >= ? AND minute < ? GROUP BY partner_id ORDER BY request_count DESC, partner_id LIMIT ?",
		[]any{from, to, limit}
}

// ValidatePartnerUsage checks UsageByPartner's inputs, every problem together.
func ValidatePartnerUsage(from, to time.Time, limit int) error {
	var p problems
	checkRange(&p, from, to, true)
	if limit < 1 || limit > MaxPartners {
		p.add("limit", "must be between 1 and %d", MaxPartners)
	}
	return p.err()
}
