// Package ordertotals owns the exact daily order totals of closed days (ClickHouse
// migration 0009): the closer that computes each ended day's totals once from
// order_rollup_1d, and the SQL by which readers take closed days from those totals and
// every other day from the rollup.
//
// Why: the rollup is exact under at-least-once delivery because each cell keeps the set of
// its events, so every read of it merges sets as large as the events it covers. A day that
// is over changes only when a late or replayed event of it arrives, so its figures can be
// computed once and read as plain numbers. order_days records, per day, when an insert
// last touched it (its view, on every insert into order_events) and when its totals were
// last computed (the closer); a day is closed while computed_at > touched_at. A late event
// reopens its day at once (readers fall back to the rollup for it), and the closer's next
// run closes it again. Figures read through ClosedDays are therefore exact at every
// moment, as the rollup's are.
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
)

// Tables of migration 0009.
const (
	// DaysTable holds, per UTC day of order events, when it was last touched and computed.
	DaysTable = "order_days"
	// TotalsTable holds each computation's exact totals per day and rollup cell.
	TotalsTable = "order_totals_1d"
)

// DefaultMargin is how far before the closer starts reading it dates a computation: an
// insert whose block was stamped by the server before that moment but was not yet visible
// to the read would otherwise leave a day marked closed without its events. Inserts of the
// ingest take seconds; five minutes is a wide bound.
const DefaultMargin = 5 * time.Minute

// dayFormat is how days are bound: compared with toDate(?), which both engines parse.
const dayFormat = "2006-01-02"

func quoted(database, table string) string {
	return warehouse.QuoteIdentifier(database) + "." + table
}

// ClosedDays returns a subquery listing (day, computed_at) for every closed day of
// [from, to) (UTC days; times of day are ignored), and its arguments: a reader takes the
// totals rows whose (day, computed_at) is IN it.
func ClosedDays(database string, from, to time.Time) (string, []any) {
	return "SELECT day, maxMerge(computed_at) FROM " + quoted(database, DaysTable) + closedOf, []any{day(from), day(to)}
}

// ClosedDayList returns a subquery listing the closed days of [from, to), and its
// arguments: a reader takes the rollup rows whose day is NOT IN it. A day order_days
// lacks (its view failed after the event was stored) is read from the rollup.
func ClosedDayList(database string, from, to time.Time) (string, []any) {
	return "SELECT day FROM " + quoted(database, DaysTable) + closedOf, []any{day(from), day(to)}
}

const closedOf = " WHERE day >= toDate(?) AND day < toDate(?)" +
	" GROUP BY day HAVING maxMerge(computed_at) > maxMerge(touched_at)"

// StaleDays returns the SQL and arguments of the days before the UTC day of before that
// are not closed, oldest first: the days the closer computes.
func StaleDays(database string, before time.Time) (string, []any) {
	return "SELECT day FROM " + quoted(database, DaysTable) + " WHERE day < toDate(?)" +
		" GROUP BY day HAVING maxMerge(computed_at) <= maxMerge(touched_at) ORDER BY day", []any{day(before)}
}

// ComputeDay returns the statement that writes the totals of one UTC day, dated
// computedAt (Unix seconds), from the rollup's merged sets.
func ComputeDay(database string, d time.Time, computedAt int64) (string, []any) {
	return "INSERT INTO " + quoted(database, TotalsTable) +
			" (environment, type, day, partner_id, product_id, currency, computed_at, orders, cents)" +
			" SELECT environment, type, day, partner_id, product_id, currency, toDateTime(?)," +
			" length(groupUniqArrayMerge(events)), arraySum(x -> x.2, groupUniqArrayMerge(events))" +
			" FROM " + quoted(database, schema.OrderRollupTable) + " WHERE day = toDate(?)" +
			" GROUP BY environment, type, day, partner_id, product_id, currency",
		[]any{computedAt, day(d)}
}

// MarkDay returns the statement that records one day as computed at computedAt (Unix
// seconds); it runs only after ComputeDay succeeded, so no reader sees a computation
// whose totals are not all written.
func MarkDay(database string, d time.Time, computedAt int64) (string, []any) {
	return "INSERT INTO " + quoted(database, DaysTable) + " (day, touched_at, computed_at)" +
		" SELECT toDate(?), maxState(toDateTime(0)), maxState(toDateTime(?))", []any{day(d), computedAt}
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
	// A day touched within the margin stays open until a later run.
	Margin time.Duration
	// Logger receives what was closed and failures; default slog.Default().
	Logger *slog.Logger
}

// Closer computes the totals of ended days that are not closed, on a schedule.
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

// RunOnce computes every ended day (before today, UTC, on the server's clock) that is not
// closed, oldest first, and returns the days it computed. A day touched within the margin
// is computed but stays open until a later run.
func (c *Closer) RunOnce(ctx context.Context) ([]time.Time, error) {
	db := c.cfg.Database
	var now time.Time
	if err := c.cfg.Conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return nil, fmt.Errorf("ordertotals: server time: %w", err)
	}
	sql, args := StaleDays(db, now)
	rows, err := c.cfg.Conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("ordertotals: stale days: %w", err)
	}
	var stale []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ordertotals: stale days: %w", err)
		}
		stale = append(stale, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ordertotals: stale days: %w", err)
	}
	var done []time.Time
	for _, d := range stale {
		// Dated before the read starts (see DefaultMargin), on the server's clock, which
		// also stamps touched_at.
		var start time.Time
		if err := c.cfg.Conn.QueryRow(ctx, "SELECT now()").Scan(&start); err != nil {
			return done, fmt.Errorf("ordertotals: server time: %w", err)
		}
		at := start.Add(-c.cfg.Margin).Unix()
		sql, args := ComputeDay(db, d, at)
		if err := c.cfg.Conn.Exec(ctx, sql, args...); err != nil {
			return done, fmt.Errorf("ordertotals: compute %s: %w", day(d), err)
		}
		sql, args = MarkDay(db, d, at)
		if err := c.cfg.Conn.Exec(ctx, sql, args...); err != nil {
			return done, fmt.Errorf("ordertotals: mark %s: %w", day(d), err)
		}
		done = append(done, d)
	}
	if len(done) > 0 {
		c.cfg.Logger.Info("order totals computed", "days", len(done), "first", day(done[0]), "last", day(done[len(done)-1]))
	}
	return done, nil
}

// Run computes stale days now and then every Interval until ctx ends. A failed run is
// logged and tried again at the next tick; Run returns nil when ctx ends.
func (c *Closer) Run(ctx context.Context) error {
	ticker := time.NewTicker(c.cfg.Interval)
	defer ticker.Stop()
	for {
		if _, err := c.RunOnce(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Error("order totals run failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
