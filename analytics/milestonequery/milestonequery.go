// Package milestonequery is the query layer that derives activation milestones from
// ClickHouse: each partner's first successful call and first completed order per
// environment, read from request_logs and order_events (package schema). `steller
// backfill milestones` runs these builders; the milestone detector reaches the same
// milestones from the Kafka streams (control-plane/milestone/detector), by the same
// rules.
//
// Builders return SQL and arguments (every value a `?` argument, the database name
// quoted). Both tables may hold an event more than once (at-least-once ingest, deduplicated
// at merge time): sorting by the event's time and id and keeping one row per partner and
// environment with LIMIT 1 BY, as package logquery keeps one row per request id, makes
// the answer the same however many copies are stored.
package milestonequery

import (
	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/warehouse"
)

// Environments are the environments milestones are derived for.
var Environments = []string{"test", "live"}

// FirstCalls returns the SQL and arguments of, for each of partnerIDs and each
// environment, the first request the edge allowed and answered 2xx (the earliest
// timestamp_ms, then the smallest request id). Columns: partner_id, environment,
// timestamp_ms (UInt64), request_id. Partners with no such request have no row.
func FirstCalls(database string, partnerIDs []string) (string, []any) {
	return "SELECT partner_id, environment, timestamp_ms, request_id FROM " + warehouse.QuoteIdentifier(database) + "." + schema.RequestLogsTable +
			" WHERE has(?, partner_id) AND environment IN (?, ?) AND status >= 200 AND status < 300 AND decision = ?" +
			" ORDER BY partner_id, environment, timestamp_ms, request_id LIMIT 1 BY partner_id, environment",
		[]any{partnerIDs, Environments[0], Environments[1], requestlog.DecisionAllow}
}

// FirstOrders returns the SQL and arguments of, for each of partnerIDs and each
// environment, the first order.completed event (the earliest occurred_at_ms, then the
// smallest event id): created orders that later fail reach nothing. Columns:
// partner_id, environment, occurred_at_ms (Int64), event_id.
func FirstOrders(database string, partnerIDs []string) (string, []any) {
	return "SELECT partner_id, environment, occurred_at_ms, event_id FROM " + warehouse.QuoteIdentifier(database) + "." + schema.OrderEventsTable +
			" WHERE has(?, partner_id) AND environment IN (?, ?) AND type = ?" +
			" ORDER BY partner_id, environment, occurred_at_ms, event_id LIMIT 1 BY partner_id, environment",
		[]any{partnerIDs, Environments[0], Environments[1], orderevent.TypeCompleted}
}
