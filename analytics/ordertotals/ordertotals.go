// Package ordertotals owns the exact order totals of closed days, weeks and months
// (ClickHouse migration 0009): the closer that computes each ended period's totals once
// from order_rollup_1d, and the SQL by which readers take closed periods from those totals
// and every other period from the rollup.
//
// Why: the rollup is exact under at-least-once delivery because each cell keeps the set of
// its events, so every read of it merges sets as large as the events it covers. A period
// that is over changes only when a late or replayed event of it arrives, so its figures
// can be computed once and read as plain numbers, one row per partner and cell for a whole
// week or month. order_periods records, per period and bucket, when an insert last
// touched it (its views, on every insert into order_events) and when its totals were last
// computed (the closer); a period is closed while computed_at > touched_at. A late event
// reopens its day, week and month at once (readers fall back to the rollup for them), and
// the closer's next run closes them again. Figures read through ClosedBuckets are
// therefore exact at every moment, as the rollup's are.
package ordertotals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/periodic"
)

// Tables of migration 0009.
const (
	// PeriodsTable holds, per period and bucket of order events, when it was last touched
	// and computed.
	PeriodsTable = "order_periods"
	// TotalsTable holds each computation's exact totals per period, bucket and rollup cell.
	TotalsTable = "order_totals"
)

// Periods, as order_periods and order_totals name them.
const (
	// Day is a UTC day.
	Day = "day"
	// Week is a UTC week from Monday.
	Week = "week"
	// Month is a UTC calendar month.
	Month = "month"
)

// Periods are the periods the closer computes, shortest first.
var Periods = []string{Day, Week, Month}

// DefaultMargin is how far before the closer starts reading it dates a computation: an
// insert whose block was stamped by the server before that moment but was not yet visible
// to the read would otherwise leave a period marked closed without its events. Inserts of
// the ingest take seconds; five minutes is a wide bound.
const DefaultMargin = 5 * time.Minute

// dayFormat is how days are bound: compared with toDate(?), which both engines parse.
const dayFormat = "2006-01-02"

func quoted(database, table string) string {
	return warehouse.QuoteIdentifier(database) + "." + table
}

// Start is the UTC start of the period holding t's UTC day, or an error for an unknown
// period.
func Start(period string, t time.Time) (time.Time, error) {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch period {
	case Day:
		return d, nil
	case Week:
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)), nil
	case Month:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC), nil
	}
	return time.Time{}, fmt.Errorf("ordertotals: period %q is not day, week or month", period)
}

// Next is the start of the period after the one starting at b.
func Next(period string, b time.Time) time.Time {
	switch period {
	case Week:
		return b.AddDate(0, 0, 7)
	case Month:
		return b.AddDate(0, 1, 0)
	}
	return b.AddDate(0, 0, 1)
}

// ClosedBuckets returns a subquery listing (bucket, computed_at) for every closed bucket
// of period starting in [from, to) (UTC days; times of day are ignored), and its
// arguments: a reader takes the totals rows of period whose (bucket, computed_at) is IN it.
func ClosedBuckets(database, period string, from, to time.Time) (string, []any) {
	return "SELECT bucket, maxMerge(computed_at) FROM " + quoted(database, PeriodsTable) + closedOf,
		[]any{period, day(from), day(to)}
}

// ClosedBucketList returns a subquery listing the closed buckets of period starting in
// [from, to), and its arguments: a reader takes the rollup rows whose bucket of period is
// NOT IN it. A bucket order_periods lacks (its view failed after the event was stored) is
// read from the rollup.
func ClosedBucketList(database, period string, from, to time.Time) (string, []any) {
	return "SELECT bucket FROM " + quoted(database, PeriodsTable) + closedOf, []any{period, day(from), day(to)}
}

const closedOf = " WHERE period = ? AND bucket >= toDate(?) AND bucket < toDate(?)" +
	" GROUP BY bucket HAVING maxMerge(computed_at) > maxMerge(touched_at)"

// StaleBuckets returns the SQL and arguments of the buckets of period that ended by the
// UTC day of before (the start of the period holding it) and are not closed, oldest
// first: the buckets the closer computes.
func StaleBuckets(database, period string, before time.Time) (string, []any) {
	end, err := Start(period, before)
	if err != nil {
		end = before // an unknown period matches no row
	}
	return "SELECT bucket FROM " + quoted(database, PeriodsTable) + " WHERE period = ? AND bucket < toDate(?)" +
		" GROUP BY bucket HAVING maxMerge(computed_at) <= maxMerge(touched_at) ORDER BY bucket", []any{period, day(end)}
}

// bucketOf is the expression of the bucket of period holding the rollup's day.
func bucketOf(period string) string {
	switch period {
	case Week:
		return "toMonday(day)"
	case Month:
		return "toStartOfMonth(day)"
	}
	return "day"
}

// Compute returns the statement that writes the totals of one bucket of period, dated
// computedAt (Unix seconds), from the rollup's sets merged over the bucket's days.
func Compute(database, period string, bucket time.Time, computedAt int64) (string, []any) {
	return "INSERT INTO " + quoted(database, TotalsTable) +
			" (period, environment, type, bucket, partner_id, product_id, currency, computed_at, orders, cents)" +
			" SELECT ?, environment, type, " + bucketOf(period) + " AS b, partner_id, product_id, currency, toDateTime(?)," +
			" length(groupUniqArrayMerge(events)), arraySum(x -> x.2, groupUniqArrayMerge(events))" +
			" FROM " + quoted(database, schema.OrderRollupTable) + " WHERE day >= toDate(?) AND day < toDate(?)" +
			" GROUP BY environment, type, b, partner_id, product_id, currency",
		[]any{period, computedAt, day(bucket), day(Next(period, bucket))}
}

// Mark returns the statement that records one bucket of period as computed at computedAt
// (Unix seconds); it runs only after Compute succeeded, so no reader sees a computation
// whose totals are not all written.
func Mark(database, period string, bucket time.Time, computedAt int64) (string, []any) {
	return "INSERT INTO " + quoted(database, PeriodsTable) + " (period, bucket, touched_at, computed_at)" +
		" SELECT ?, toDate(?), maxState(toDateTime(0)), maxState(toDateTime(?))", []any{period, day(bucket), computedAt}
}

func day(t time.Time) string { return t.UTC().Format(dayFormat) }

// Config configures a Closer.
type Config struct {
	// Conn is the ClickHouse connection (required).
	Conn driver.Conn
	// Database holds the tables (required).
	Database string
	// Interval is the time between runs; default ten minutes.
	Interval time.Duration
	// Margin dates each computation this long before it starts; default DefaultMargin.
	// A period touched within the margin stays open until a later run.
	Margin time.Duration
	// Logger receives what was closed and failures; default slog.Default().
	Logger *slog.Logger
}

// Closer computes the totals of ended periods that are not closed, on a schedule.
type Closer struct {
	cfg Config
}

// New validates cfg and returns a Closer.
func New(cfg Config) (*Closer, error) {
	var errs []error
	if cfg.Conn == nil {
		errs = append(errs, errors.New("ordertotals: a ClickHouse connection is required"))
	}
	if cfg.Database == "" {
		errs = append(errs, errors.New("ordertotals: a database is required"))
	}
	if cfg.Interval < 0 || cfg.Margin < 0 {
		errs = append(errs, fmt.Errorf("ordertotals: interval (%s) and margin (%s) must not be negative", cfg.Interval, cfg.Margin))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Closer{cfg: cfg}, nil
}

// Bucket is one period's bucket.
type Bucket struct {
	Period string
	Start  time.Time
}

// RunOnce computes every ended period (before the one holding today, UTC, on the server's
// clock) that is not closed: days, then weeks, then months, oldest first, and returns the
// buckets it computed. A period touched within the margin is computed but stays open
// until a later run.
func (c *Closer) RunOnce(ctx context.Context) ([]Bucket, error) {
	var done []Bucket
	for _, period := range Periods {
		n, err := c.closePeriod(ctx, period)
		done = append(done, n...)
		if err != nil {
			return done, err
		}
	}
	if len(done) > 0 {
		c.cfg.Logger.Info("order totals computed", "buckets", len(done), "first", day(done[0].Start))
	}
	return done, nil
}

func (c *Closer) serverNow(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := c.cfg.Conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("ordertotals: server time: %w", err)
	}
	return now, nil
}

func (c *Closer) closePeriod(ctx context.Context, period string) ([]Bucket, error) {
	db := c.cfg.Database
	now, err := c.serverNow(ctx)
	if err != nil {
		return nil, err
	}
	sql, args := StaleBuckets(db, period, now)
	rows, err := c.cfg.Conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("ordertotals: stale %ss: %w", period, err)
	}
	var stale []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ordertotals: stale %ss: %w", period, err)
		}
		stale = append(stale, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ordertotals: stale %ss: %w", period, err)
	}
	var done []Bucket
	for _, d := range stale {
		// Dated before the read starts (see DefaultMargin), on the server's clock, which
		// also stamps touched_at.
		start, err := c.serverNow(ctx)
		if err != nil {
			return done, err
		}
		at := start.Add(-c.cfg.Margin).Unix()
		sql, args := Compute(db, period, d, at)
		if err := c.cfg.Conn.Exec(ctx, sql, args...); err != nil {
			return done, fmt.Errorf("ordertotals: compute %s %s: %w", period, day(d), err)
		}
		sql, args = Mark(db, period, d, at)
		if err := c.cfg.Conn.Exec(ctx, sql, args...); err != nil {
			return done, fmt.Errorf("ordertotals: mark %s %s: %w", period, day(d), err)
		}
		done = append(done, Bucket{Period: period, Start: time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)})
	}
	return done, nil
}

// Run computes stale periods now and then every Interval until ctx ends. A failed run is
// logged and tried again at the next tick; Run returns nil when ctx ends.
func (c *Closer) Run(ctx context.Context) error {
	return periodic.Run(ctx, c.cfg.Interval, c.cfg.Logger, "order totals run failed", func(ctx context.Context) error {
		_, err := c.RunOnce(ctx)
		return err
	})
}
