// Package orderevent owns the order event: the record of one order state change (created,
// completed, failed) that the sandbox vendor and the live order system both publish to the
// Kafka topic steller.order-events.v1, keyed by partner id, and that the webhook dispatcher
// consumes (revenue figures and activation tracking are to read it too). It also owns the
// publisher that writes events to that topic.
//
// Event is versioned like the request-log event: fields are only ever added, and a change
// that consumers cannot ignore bumps SchemaVersion and moves to a new topic. Times are Unix
// milliseconds (UTC); amounts are integer minor units (cents).
package orderevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SchemaVersion is the version of Event written by this code.
const SchemaVersion = 1

// Event types.
const (
	// TypeCreated: the order was accepted and the balance debited; it is pending.
	TypeCreated = "order.created"
	// TypeCompleted: the vendor fulfilled the order; the gift card exists.
	TypeCompleted = "order.completed"
	// TypeFailed: the vendor could not fulfil the order; the amount was refunded.
	TypeFailed = "order.failed"
)

// Failure reasons carried by order.failed events. The list may grow: consumers must treat
// an unknown reason as a generic failure.
const (
	// ReasonOutOfStock: the vendor had no stock of the product.
	ReasonOutOfStock = "vendor_out_of_stock"
	// ReasonTimeout: the vendor did not answer in time; the order was abandoned.
	ReasonTimeout = "vendor_timeout"
)

// Event is one order state change (schema version 1).
type Event struct {
	// SchemaVersion is SchemaVersion at the time of writing.
	SchemaVersion int `json:"schema_version"`
	// EventID identifies this state change: the same change always carries the same id
	// (see ID), so a redelivered event is recognised. Consumers deduplicate on it and must
	// treat it as opaque.
	EventID string `json:"event_id"`
	// Type is TypeCreated, TypeCompleted or TypeFailed.
	Type string `json:"type"`
	// OrderID is the order's public id (ord_…).
	OrderID string `json:"order_id"`
	// PartnerID is the partner that placed the order (also the Kafka message key).
	PartnerID string `json:"partner_id"`
	// WorkspaceID is the workspace of the API key that placed the order.
	WorkspaceID string `json:"workspace_id"`
	// Environment is "test" (sandbox) or "live".
	Environment string `json:"environment"`
	// ProductID is the catalog product ordered.
	ProductID string `json:"product_id"`
	// AmountCents is the order's face value in minor units of Currency.
	AmountCents int64 `json:"amount_cents"`
	// Currency is the ISO 4217 code of AmountCents (for example "USD").
	Currency string `json:"currency"`
	// FailureReason is a stable code (ReasonOutOfStock, ...) on order.failed; empty
	// otherwise.
	FailureReason string `json:"failure_reason"`
	// OrderCreatedAtMs is when the order was created, in Unix milliseconds (UTC); the same
	// on every event of one order.
	OrderCreatedAtMs int64 `json:"order_created_at_ms"`
	// OccurredAtMs is when this state change happened, in Unix milliseconds (UTC).
	OccurredAtMs int64 `json:"occurred_at_ms"`
	// RequestID is the X-Request-Id of the edge request that created the order, so an
	// order's events and webhooks can be shown beside that request's log.
	RequestID string `json:"request_id"`
}

// ID returns the stable event id of one state change of an order: "evt_" + order id + "_"
// + the type's last word, for example "evt_ord_x7…_completed".
func ID(orderID, eventType string) string {
	return "evt_" + orderID + "_" + eventType[strings.LastIndexByte(eventType, '.')+1:]
}

// ErrInvalid is returned (wrapped) by Decode and Validate for an event that breaks the
// contract.
var ErrInvalid = errors.New("orderevent: invalid event")

// Validate checks the fields every consumer relies on.
func (e Event) Validate() error {
	var problems []string
	if e.SchemaVersion != SchemaVersion {
		problems = append(problems, fmt.Sprintf("schema_version %d is not %d", e.SchemaVersion, SchemaVersion))
	}
	switch e.Type {
	case TypeCreated, TypeCompleted:
		if e.FailureReason != "" {
			problems = append(problems, "failure_reason set on "+e.Type)
		}
	case TypeFailed:
		if e.FailureReason == "" {
			problems = append(problems, "failure_reason missing on order.failed")
		}
	default:
		problems = append(problems, fmt.Sprintf("unknown type %q", e.Type))
	}
	for name, v := range map[string]string{"event_id": e.EventID, "order_id": e.OrderID, "partner_id": e.PartnerID, "environment": e.Environment, "product_id": e.ProductID, "currency": e.Currency} {
		if v == "" {
			problems = append(problems, name+" missing")
		}
	}
	if e.AmountCents <= 0 {
		problems = append(problems, "amount_cents not positive")
	}
	if e.OccurredAtMs <= 0 || e.OrderCreatedAtMs <= 0 {
		problems = append(problems, "times missing")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// Encode returns the event's JSON after checking it against the contract.
func Encode(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// Decode parses one event and checks it against the contract. Unknown fields are ignored
// (they are additions from a newer producer); another schema version is an error wrapping
// ErrInvalid, so a consumer dead-letters it rather than guessing.
func Decode(raw []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}
