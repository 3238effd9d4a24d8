package orderquery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/orderquery"
	"github.com/steller/platform/analytics/orderquery/ordertest"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/schema/schematest"
)

const eventColumns = "ts, occurred_at_ms, event_id, type, order_id, partner_id, workspace_id, environment, product_id," +
	" amount_cents, currency, failure_reason, order_created_at_ms, request_id, schema_version, ingested_at"

func eventValues(e orderevent.Event, ingested time.Time) []any {
	return []any{
		time.UnixMilli(e.OccurredAtMs).UTC().Truncate(time.Second), e.OccurredAtMs, e.EventID, e.Type, e.OrderID, e.PartnerID,
		e.WorkspaceID, e.Environment, e.ProductID, e.AmountCents, e.Currency, e.FailureReason, e.OrderCreatedAtMs,
		e.RequestID, uint8(e.SchemaVersion), ingested,
	}
}

// insert stores events with one batch on each engine, as one ingest batch would: a
// second call with the same events is a redelivery, which the view sees again.
func insert(t *testing.T, tw schematest.Twin, events []orderevent.Event) {
	t.Helper()
	ingested := time.Now().UTC().Truncate(time.Second)
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = eventValues(e, ingested)
	}
	tw.Insert(t, schema.OrderEventsTable, strings.Split(eventColumns, ", "), rows)
}

// Daily answers the same on 18.16 and current ClickHouse, and both equal the figures
// computed in Go from the raw events, though a third of the events were stored twice
// (a replayed batch) and some three times (re-published and replayed).
func TestDailyAnswersOnBothEnginesAsComputedFromRawEvents(t *testing.T) {
	t.Parallel()
	tw := schematest.NewTwin(t)
	ctx := context.Background()
	base := time.Date(2026, 3, 30, 18, 0, 0, 0, time.UTC) // across a day and a month boundary
	events := ordertest.Events("twin", 40, base, 97*time.Minute)
	events[0].PartnerID, events[1].PartnerID = `ptr_'q"\?`, `ptr_'q"\?` // escaping on the way
	insert(t, tw, events)
	var again []orderevent.Event
	for i, e := range events {
		if i%3 == 0 {
			again = append(again, e)
		}
	}
	insert(t, tw, again)
	insert(t, tw, again[:5])
	all := append(append(append([]orderevent.Event{}, events...), again...), again[:5]...)

	from, to := base.Add(-24*time.Hour), base.AddDate(0, 0, 5)
	filters := map[string]orderquery.Filter{
		"all":          {From: from, To: to},
		"one partner":  {PartnerID: events[3].PartnerID, From: from, To: to},
		"quoted":       {PartnerID: `ptr_'q"\?`, From: from, To: to},
		"live":         {Environment: "live", From: from, To: to},
		"one product":  {ProductID: events[4].ProductID, Environment: "test", From: from, To: to},
		"one day only": {From: base.Add(24 * time.Hour), To: base.Add(48 * time.Hour)},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, f.Validate())
			sql, args := orderquery.Daily(tw.Database, f)
			tw.Query(t, sql, args...)

			days, err := orderquery.Read(ctx, tw.Old.Conn, tw.Database, f)
			require.NoError(t, err)
			expected := ordertest.Daily(all, f)
			require.NotEmpty(t, expected, "the case must have figures to compare")
			assert.Equal(t, expected, days, "the rollup's figures equal those computed from the raw events")
		})
	}
}
