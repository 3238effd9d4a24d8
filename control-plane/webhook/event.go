package webhook

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event types an endpoint may subscribe to.
const (
	EventOrderCreated   = "order.created"
	EventOrderCompleted = "order.completed"
	EventOrderFailed    = "order.failed"
	// EventTest is sent by "send test event"; every endpoint receives it when asked.
	EventTest = "webhook.test"
)

// EventTypes are the subscribable event types.
var EventTypes = []string{EventOrderCreated, EventOrderCompleted, EventOrderFailed}

// orderEvent is the part of an order event (topic steller.order-events.v1) the dispatcher
// reads. TODO: switch to analytics/orderevent.Event once it exists.
type orderEvent struct {
	EventID       string    `json:"event_id"`
	Type          string    `json:"type"`
	OrderID       string    `json:"order_id"`
	PartnerID     string    `json:"partner_id"`
	WorkspaceID   string    `json:"workspace_id"`
	Environment   string    `json:"environment"`
	ProductID     string    `json:"product_id"`
	AmountCents   int64     `json:"amount_cents"`
	Currency      string    `json:"currency"`
	FailureReason string    `json:"failure_reason,omitempty"`
	OccurredAt    time.Time `json:"occurred_at"`
	RequestID     string    `json:"request_id,omitempty"`
}

// decodeError is an order event that can never be handled (it is skipped, not retried).
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "webhook: order event: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

func decodeOrderEvent(raw []byte) (orderEvent, error) {
	var ev orderEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, &decodeError{err}
	}
	if ev.EventID == "" || ev.PartnerID == "" || ev.WorkspaceID == "" || ev.Type == "" {
		return ev, &decodeError{fmt.Errorf("event %q lacks event_id, type, partner_id or workspace_id", ev.EventID)}
	}
	return ev, nil
}

// Payload is the JSON body of every webhook (Standard Webhooks shape: type, timestamp, data).
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// OrderData is the data of an order.* webhook.
type OrderData struct {
	EventID       string `json:"event_id"`
	OrderID       string `json:"order_id"`
	Environment   string `json:"environment"`
	ProductID     string `json:"product_id"`
	AmountCents   int64  `json:"amount_cents"`
	Currency      string `json:"currency"`
	FailureReason string `json:"failure_reason,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
}

func orderPayload(ev orderEvent) ([]byte, error) {
	return json.Marshal(Payload{Type: ev.Type, Timestamp: ev.OccurredAt.UTC(), Data: OrderData{
		EventID: ev.EventID, OrderID: ev.OrderID, Environment: ev.Environment, ProductID: ev.ProductID,
		AmountCents: ev.AmountCents, Currency: ev.Currency, FailureReason: ev.FailureReason, RequestID: ev.RequestID,
	}})
}
