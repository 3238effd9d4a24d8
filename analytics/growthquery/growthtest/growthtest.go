// Package growthtest supports tests of the growth metrics: it stores raw request-log rows
// and order events in ClickHouse (18.16 through clickhouse-go, current ClickHouse through
// chcurrent) the way the ingest stores them, one insert per batch, so tests can seed the
// rows they then compute figures from in plain Go.
package growthtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/chcurrent"
)

// Request is the part of a request-log row the growth figures read.
type Request struct {
	RequestID string
	PartnerID string
	At        time.Time
	Status    uint16
}

const requestColumns = "ts, timestamp_ms, request_id, partner_id, environment, status, decision, schema_version, ingested_at"

func (r Request) values(ingested time.Time) []any {
	at := r.At.UTC()
	return []any{at.Truncate(time.Second), uint64(at.UnixMilli()), r.RequestID, r.PartnerID, "test", r.Status, "allow", uint8(1), ingested}
}

const orderColumns = "ts, occurred_at_ms, event_id, type, order_id, partner_id, workspace_id, environment, product_id," +
	" amount_cents, currency, failure_reason, order_created_at_ms, request_id, schema_version, ingested_at"

func orderValues(e orderevent.Event, ingested time.Time) []any {
	return []any{
		time.UnixMilli(e.OccurredAtMs).UTC().Truncate(time.Second), e.OccurredAtMs, e.EventID, e.Type, e.OrderID, e.PartnerID,
		e.WorkspaceID, e.Environment, e.ProductID, e.AmountCents, e.Currency, e.FailureReason, e.OrderCreatedAtMs,
		e.RequestID, uint8(e.SchemaVersion), ingested,
	}
}

// Engines are the same database on one or both engines; Current may be nil (18.16 only).
type Engines struct {
	Conn     driver.Conn
	Database string
	Current  *chcurrent.Session
}

// InsertRequests stores rows as one batch on each engine; a second call with the same rows
// is a redelivery.
func (e Engines) InsertRequests(t testing.TB, rows []Request) {
	t.Helper()
	values := make([][]any, len(rows))
	now := time.Now().UTC().Truncate(time.Second)
	for i, r := range rows {
		values[i] = r.values(now)
	}
	e.insert(t, schema.RequestLogsTable, requestColumns, values)
}

// InsertOrders stores events as one batch on each engine, as one ingest batch would: the
// rollup's view sees every copy of a redelivered event.
func (e Engines) InsertOrders(t testing.TB, events []orderevent.Event) {
	t.Helper()
	values := make([][]any, len(events))
	now := time.Now().UTC().Truncate(time.Second)
	for i, ev := range events {
		values[i] = orderValues(ev, now)
	}
	e.insert(t, schema.OrderEventsTable, orderColumns, values)
}

func (e Engines) insert(t testing.TB, table, columns string, rows [][]any) {
	t.Helper()
	if len(rows) == 0 {
		return
	}
	ctx := context.Background()
	insert := "INSERT INTO " + warehouse.QuoteIdentifier(e.Database) + "." + table + " (" + columns + ")"
	for start := 0; start < len(rows); start += 100_000 {
		part := rows[start:min(start+100_000, len(rows))]
		batch, err := e.Conn.PrepareBatch(ctx, insert)
		require.NoError(t, err)
		for _, r := range part {
			require.NoError(t, batch.Append(r...))
		}
		require.NoError(t, batch.Send())
	}
	if e.Current == nil {
		return
	}
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(rows[0])), ", ") + ")"
	tuples := make([]string, len(rows))
	var args []any
	for i, r := range rows {
		tuples[i] = tuple
		args = append(args, r...)
	}
	require.NoError(t, e.Current.Exec(ctx, insert+" VALUES "+strings.Join(tuples, ", "), args...), "insert on current ClickHouse")
}
