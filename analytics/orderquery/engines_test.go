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
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/chcurrent"
	"github.com/steller/platform/internal/testenv"
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

// twin is one database on 18.16 and the same on current ClickHouse, every migration
// applied.
type twin struct {
	old testenv.ClickHouse
	cur *chcurrent.Session
}

func newTwin(t *testing.T) twin {
	t.Helper()
	ctx := context.Background()
	old := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, old.Conn, old.Database))
	cur := chcurrent.Shared(t)
	cur.CreateDatabase(t, old.Database)
	migrations, err := schema.Migrations()
	require.NoError(t, err)
	for _, m := range migrations {
		stmts, err := m.Statements(old.Database)
		require.NoError(t, err)
		_, err = cur.Run(ctx, stmts...)
		require.NoError(t, err, "migration %s fails on current ClickHouse %s", m.Name, cur.Version())
	}
	return twin{old: old, cur: cur}
}

// insert stores events with one insert on each engine, as one ingest batch would: a
// second call with the same events is a redelivery, which the view sees again.
func (tw twin) insert(t *testing.T, events []orderevent.Event) {
	t.Helper()
	ctx := context.Background()
	insert := "INSERT INTO " + warehouse.QuoteIdentifier(tw.old.Database) + "." + schema.OrderEventsTable + " (" + eventColumns + ")"
	batch, err := tw.old.Conn.PrepareBatch(ctx, insert)
	require.NoError(t, err)
	ingested := time.Now().UTC().Truncate(time.Second)
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", 16), ", ") + ")"
	var tuples []string
	var args []any
	for _, e := range events {
		require.NoError(t, batch.Append(eventValues(e, ingested)...))
		tuples = append(tuples, tuple)
		args = append(args, eventValues(e, ingested)...)
	}
	require.NoError(t, batch.Send())
	require.NoError(t, tw.cur.Exec(ctx, insert+" VALUES "+strings.Join(tuples, ", "), args...), "insert on current ClickHouse")
}

// Daily answers the same on 18.16 and current ClickHouse, and both equal the figures
// computed in Go from the raw events, though a third of the events were stored twice
// (a replayed batch) and some three times (re-published and replayed).
func TestDailyAnswersOnBothEnginesAsComputedFromRawEvents(t *testing.T) {
	t.Parallel()
	tw := newTwin(t)
	ctx := context.Background()
	base := time.Date(2026, 3, 30, 18, 0, 0, 0, time.UTC) // across a day and a month boundary
	events := ordertest.Events("twin", 40, base, 97*time.Minute)
	events[0].PartnerID, events[1].PartnerID = `ptr_'q"\?`, `ptr_'q"\?` // escaping on the way
	tw.insert(t, events)
	var again []orderevent.Event
	for i, e := range events {
		if i%3 == 0 {
			again = append(again, e)
		}
	}
	tw.insert(t, again)
	tw.insert(t, again[:5])
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
			sql, args := orderquery.Daily(tw.old.Database, f)
			rows, err := tw.old.Conn.Query(ctx, sql, args...)
			require.NoError(t, err, "18.16")
			want, err := chcurrent.Collect(rows)
			require.NoError(t, err)
			got, err := tw.cur.Query(ctx, sql, args...)
			require.NoError(t, err, "current ClickHouse %s", tw.cur.Version())
			assert.Equal(t, want.Columns, got.Columns, "columns: 18.16 (expected) and current ClickHouse (actual)")
			assert.Equal(t, want.Rows, got.Rows, "rows: 18.16 (expected) and current ClickHouse (actual)")

			days, err := orderquery.Read(ctx, tw.old.Conn, tw.old.Database, f)
			require.NoError(t, err)
			expected := ordertest.Daily(all, f)
			require.NotEmpty(t, expected, "the case must have figures to compare")
			assert.Equal(t, expected, days, "the rollup's figures equal those computed from the raw events")
		})
	}
}
