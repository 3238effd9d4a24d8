// Package orderquery is the query layer over the order tables (package schema): revenue
// and volume by partner, environment, product, currency and UTC day, read from the daily
// rollup order_rollup_1d. Builders return SQL and arguments (every value a `?` argument,
// the database name quoted); Read runs them.
//
// The figures are exact under at-least-once delivery: each rollup cell holds the set of
// its (event_id, amount_cents) pairs, so an event stored twice is counted and summed once.
// An order counts in volume on the day it was created (order.created), in revenue on the
// day it completed (order.completed), and as failed on the day it failed (its amount was
// refunded). Amounts are integer minor units of the row's currency.
package orderquery

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
)

// MaxDays bounds the range of one query (about ten years).
const MaxDays = 3660

// Filter selects the days and cells to read. From and To are UTC days (the time of day
// is ignored): the range holds the days from From up to, not including, To.
type Filter struct {
	// PartnerID limits the figures to one partner; empty means all partners (admins).
	PartnerID string
	// Environment is "test" (sandbox) or "live"; empty means both, kept apart in the rows.
	Environment string
	// ProductID limits the figures to one product; empty means all.
	ProductID string
	// From and To bound the range of days; both are required and From is before To.
	From, To time.Time
}

// ErrInvalidFilter is wrapped by Validate's error.
var ErrInvalidFilter = errors.New("orderquery: invalid filter")

// Validate reports every problem with f together, or nil.
func (f Filter) Validate() error {
	var problems []string
	if f.From.IsZero() || f.To.IsZero() {
		problems = append(problems, "from and to are required")
	} else {
		from, to := f.days()
		switch n := int(to.Sub(from).Hours() / 24); {
		case n <= 0:
			problems = append(problems, "from must be a day before to")
		case n > MaxDays:
			problems = append(problems, fmt.Sprintf("the range spans %d days, at most %d", n, MaxDays))
		}
	}
	switch f.Environment {
	case "", "test", "live":
	default:
		problems = append(problems, fmt.Sprintf("environment %q is not test or live", f.Environment))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidFilter, strings.Join(problems, "; "))
	}
	return nil
}

// days returns From and To as UTC midnights.
func (f Filter) days() (from, to time.Time) {
	day := func(t time.Time) time.Time {
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return day(f.From), day(f.To)
}

// dayFormat is how days are bound: compared with toDate(?), which both engines parse.
const dayFormat = "2006-01-02"

// Daily returns the SQL and arguments of the figures per day, partner, environment,
// product and currency over f (validate f first), ordered by those columns. Columns:
// day, partner_id, environment, product_id, currency, orders_created, volume_cents,
// orders_completed, revenue_cents, orders_failed, failed_cents. Cells with no event are
// absent (not zero rows).
//
// The inner query merges each cell's set of events, by type, into a count and an exact
// sum; the outer one pivots the types into columns. Every copy of an event is in the
// same cell, so no set spans cells and the sums over cells stay exact.
func Daily(database string, f Filter) (string, []any) {
	from, to := f.days()
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.PartnerID != "" {
		add("partner_id = ?", f.PartnerID) // first: it leads the sorting key
	}
	add("day >= toDate(?)", from.Format(dayFormat))
	add("day < toDate(?)", to.Format(dayFormat))
	if f.Environment != "" {
		add("environment = ?", f.Environment)
	}
	if f.ProductID != "" {
		add("product_id = ?", f.ProductID)
	}
	const cell = "day, partner_id, environment, product_id, currency"
	sql := "SELECT " + cell +
		", sumIf(n, type = ?) AS orders_created, sumIf(cents, type = ?) AS volume_cents" +
		", sumIf(n, type = ?) AS orders_completed, sumIf(cents, type = ?) AS revenue_cents" +
		", sumIf(n, type = ?) AS orders_failed, sumIf(cents, type = ?) AS failed_cents" +
		" FROM (SELECT " + cell + ", type, length(groupUniqArrayMerge(events)) AS n" +
		", arraySum(x -> x.2, groupUniqArrayMerge(events)) AS cents" +
		" FROM " + warehouse.QuoteIdentifier(database) + "." + schema.OrderRollupTable +
		" WHERE " + strings.Join(where, " AND ") +
		" GROUP BY " + cell + ", type)" +
		" GROUP BY " + cell + " ORDER BY " + cell
	types := []any{
		orderevent.TypeCreated, orderevent.TypeCreated, orderevent.TypeCompleted, orderevent.TypeCompleted,
		orderevent.TypeFailed, orderevent.TypeFailed,
	}
	return sql, append(types, args...)
}
