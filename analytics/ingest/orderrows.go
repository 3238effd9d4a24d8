package ingest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/steller/platform/analytics/orderevent"
)

// Reasons an order event is dead-lettered, beside the shared ones (ReasonInvalidJSON,
// ReasonUnsupportedVersion, ReasonTimestampOutOfRange).
const (
	// ReasonMissingEventID: event_id is empty, so the row could not be deduplicated.
	ReasonMissingEventID = "missing_event_id"
	// ReasonInvalidEvent: the order event breaks its contract (orderevent.Event.Validate:
	// an unknown type, a non-positive amount, a missing partner, product or currency...).
	ReasonInvalidEvent = "invalid_event"
)

// orderColumns are order_events' columns in the order orderRows appends them.
var orderColumns = []string{
	"ts", "occurred_at_ms", "event_id", "type", "order_id", "partner_id", "workspace_id", "environment",
	"product_id", "amount_cents", "currency", "failure_reason", "order_created_at_ms", "request_id",
	"schema_version", "ingested_at",
}

// orderRows are a batch's order_events rows, column by column.
type orderRows struct {
	ts                                          []time.Time
	occurredAtMs, amountCents, orderCreatedAtMs []int64
	eventID, eventType, orderID                 []string
	partnerID, workspaceID, environment         []string
	productID, currency, failureReason          []string
	requestID                                   []string
	schemaVersion                               []uint8
	ingestedAt                                  []time.Time
}

func (r *orderRows) len() int { return len(r.eventID) }

func (r *orderRows) reset() {
	r.ts, r.ingestedAt, r.schemaVersion = r.ts[:0], r.ingestedAt[:0], r.schemaVersion[:0]
	r.occurredAtMs, r.amountCents, r.orderCreatedAtMs = r.occurredAtMs[:0], r.amountCents[:0], r.orderCreatedAtMs[:0]
	r.eventID, r.eventType, r.orderID = r.eventID[:0], r.eventType[:0], r.orderID[:0]
	r.partnerID, r.workspaceID, r.environment = r.partnerID[:0], r.workspaceID[:0], r.environment[:0]
	r.productID, r.currency, r.failureReason = r.productID[:0], r.currency[:0], r.failureReason[:0]
	r.requestID = r.requestID[:0]
}

// add appends one decoded event as a row.
func (r *orderRows) add(e *orderevent.Event) {
	r.ts = append(r.ts, time.UnixMilli(e.OccurredAtMs).Truncate(time.Second).UTC())
	r.occurredAtMs = append(r.occurredAtMs, e.OccurredAtMs)
	r.eventID = append(r.eventID, e.EventID)
	r.eventType = append(r.eventType, e.Type)
	r.orderID = append(r.orderID, e.OrderID)
	r.partnerID = append(r.partnerID, e.PartnerID)
	r.workspaceID = append(r.workspaceID, e.WorkspaceID)
	r.environment = append(r.environment, e.Environment)
	r.productID = append(r.productID, e.ProductID)
	r.amountCents = append(r.amountCents, e.AmountCents)
	r.currency = append(r.currency, e.Currency)
	r.failureReason = append(r.failureReason, e.FailureReason)
	r.orderCreatedAtMs = append(r.orderCreatedAtMs, e.OrderCreatedAtMs)
	r.requestID = append(r.requestID, e.RequestID)
	r.schemaVersion = append(r.schemaVersion, uint8(e.SchemaVersion))
}

func (r *orderRows) appendTo(cb driver.Batch, ingestedAt time.Time) error {
	r.ingestedAt = stamp(r.ingestedAt, r.len(), ingestedAt)
	return appendColumns(cb, orderColumns, []any{
		r.ts, r.occurredAtMs, r.eventID, r.eventType, r.orderID, r.partnerID, r.workspaceID, r.environment,
		r.productID, r.amountCents, r.currency, r.failureReason, r.orderCreatedAtMs, r.requestID,
		r.schemaVersion, r.ingestedAt,
	})
}

// orderValidator decodes order events. Orders are few next to requests, so it uses
// encoding/json, as orderevent.Decode does, and applies the contract's own checks.
type orderValidator struct {
	now      func() time.Time
	maxAge   time.Duration
	maxAhead time.Duration
}

// decode parses one order event: the same checks as orderevent.Decode, each with its
// own reason, and bounds on occurred_at_ms (it picks the monthly partition) like the
// request log's timestamp.
func (v *orderValidator) decode(value []byte) (orderevent.Event, *rejection) {
	var e orderevent.Event
	if err := json.Unmarshal(value, &e); err != nil {
		return e, &rejection{ReasonInvalidJSON, err.Error()}
	}
	if e.SchemaVersion != orderevent.SchemaVersion {
		return e, &rejection{ReasonUnsupportedVersion, fmt.Sprintf("schema_version %d, want %d", e.SchemaVersion, orderevent.SchemaVersion)}
	}
	if e.EventID == "" {
		return e, &rejection{ReasonMissingEventID, "event_id is empty"}
	}
	if err := e.Validate(); err != nil {
		return e, &rejection{ReasonInvalidEvent, err.Error()}
	}
	now := v.now().UnixMilli()
	if e.OccurredAtMs < now-v.maxAge.Milliseconds() || e.OccurredAtMs > now+v.maxAhead.Milliseconds() {
		return e, &rejection{ReasonTimestampOutOfRange, fmt.Sprintf("occurred_at_ms %d is outside [now-%s, now+%s]", e.OccurredAtMs, v.maxAge, v.maxAhead)}
	}
	return e, nil
}

func (v *orderValidator) decodeInto(value []byte, rows rowSet) *rejection {
	e, why := v.decode(value)
	if why != nil {
		return why
	}
	rows.(*orderRows).add(&e)
	return nil
}
