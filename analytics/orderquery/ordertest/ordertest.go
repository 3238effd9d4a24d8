// Package ordertest supports tests of the order pipeline: it makes order events of
// sandbox and live orders, and computes the daily figures orderquery.Daily must answer
// from raw events, in plain Go, so that the SQL is checked against an independent
// computation.
package ordertest

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/orderquery"
)

// Events returns the events of n orders placed from start on, one every step, spread
// over three partners, both environments, three products and two currencies: every order
// has order.created, and then order.completed (two of three) or order.failed, a little
// later (some of them the next day). Amounts vary and are large enough that a float would
// lose cents.
func Events(prefix string, n int, start time.Time, step time.Duration) []orderevent.Event {
	var out []orderevent.Event
	for i := range n {
		created := start.Add(time.Duration(i) * step)
		orderID := fmt.Sprintf("ord_%s_%04d", prefix, i)
		base := orderevent.Event{
			SchemaVersion: orderevent.SchemaVersion, OrderID: orderID,
			PartnerID: fmt.Sprintf("ptr_%s_%d", prefix, i%3), WorkspaceID: fmt.Sprintf("ws_%s_%d", prefix, i%3),
			Environment: []string{"test", "live"}[i%2], ProductID: []string{"amazon-us-25", "steam-50", "apple-10"}[i%3],
			AmountCents: 900_719_925_474_099 + int64(i)*1_001, Currency: []string{"USD", "EUR"}[(i/2)%2],
			OrderCreatedAtMs: created.UnixMilli(), RequestID: fmt.Sprintf("req_%s_%04d", prefix, i),
		}
		c := base
		c.Type, c.EventID, c.OccurredAtMs = orderevent.TypeCreated, orderevent.ID(orderID, orderevent.TypeCreated), created.UnixMilli()
		out = append(out, c)
		final := base
		final.OccurredAtMs = created.Add(time.Duration(i%5) * 7 * time.Hour).UnixMilli()
		if i%3 == 2 {
			final.Type, final.FailureReason = orderevent.TypeFailed, orderevent.ReasonOutOfStock
		} else {
			final.Type = orderevent.TypeCompleted
		}
		final.EventID = orderevent.ID(orderID, final.Type)
		out = append(out, final)
	}
	return out
}

// Daily computes what orderquery.Daily answers for events (duplicates included) over f:
// each event id counted once, on the UTC day of its occurred_at_ms, rows in Daily's order.
func Daily(events []orderevent.Event, f orderquery.Filter) []orderquery.Day {
	type cell struct{ day, partner, env, product, currency string }
	from, to := utcDay(f.From), utcDay(f.To)
	seen := map[string]bool{}
	days := map[cell]*orderquery.Day{}
	for _, e := range events {
		if seen[e.EventID] {
			continue
		}
		seen[e.EventID] = true
		day := utcDay(time.UnixMilli(e.OccurredAtMs))
		if day.Before(from) || !day.Before(to) || (f.PartnerID != "" && e.PartnerID != f.PartnerID) ||
			(f.Environment != "" && e.Environment != f.Environment) || (f.ProductID != "" && e.ProductID != f.ProductID) {
			continue
		}
		k := cell{day.Format(time.DateOnly), e.PartnerID, e.Environment, e.ProductID, e.Currency}
		d := days[k]
		if d == nil {
			d = &orderquery.Day{Day: day, PartnerID: e.PartnerID, Environment: e.Environment, ProductID: e.ProductID, Currency: e.Currency}
			days[k] = d
		}
		switch e.Type {
		case orderevent.TypeCreated:
			d.OrdersCreated++
			d.VolumeCents += e.AmountCents
		case orderevent.TypeCompleted:
			d.OrdersCompleted++
			d.RevenueCents += e.AmountCents
		case orderevent.TypeFailed:
			d.OrdersFailed++
			d.FailedCents += e.AmountCents
		}
	}
	out := make([]orderquery.Day, 0, len(days))
	for _, d := range days {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b orderquery.Day) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.PartnerID, b.PartnerID), cmp.Compare(a.Environment, b.Environment),
			cmp.Compare(a.ProductID, b.ProductID), cmp.Compare(a.Currency, b.Currency))
	})
	return out
}

func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
