package webhook

import (
	"encoding/json"
	"time"

	"github.com/steller/platform/analytics/orderevent"
)

// Event types an endpoint may subscribe to: the order event types of analytics/orderevent.
const (
	EventOrderCreated   = orderevent.TypeCreated
	EventOrderCompleted = orderevent.TypeCompleted
	EventOrderFailed    = orderevent.TypeFailed
	// EventTest is sent by "send test event"; every endpoint receives it when asked.
	EventTest = "webhook.test"
)

// EventTypes are the subscribable event types.
var EventTypes = []string{EventOrderCreated, EventOrderCompleted, EventOrderFailed}

// decodeError is an order event that can never be handled (it is skipped, not retried).
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "webhook: order event: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// decodeOrderEvent reads one message of topic steller.order-events.v1 against the contract
// of analytics/orderevent; a workspace is required too, since endpoints belong to one.
func decodeOrderEvent(raw []byte) (orderevent.Event, error) {
	ev, err := orderevent.Decode(raw)
	if err != nil {
		return ev, &decodeError{err}
	}
	if ev.WorkspaceID == "" {
		return ev, &decodeError{orderevent.ErrInvalid}
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
	EventID        string    `json:"event_id"`
	OrderID        string    `json:"order_id"`
	Environment    string    `json:"environment"`
	ProductID      string    `json:"product_id"`
	AmountCents    int64     `json:"amount_cents"`
	Currency       string    `json:"currency"`
	FailureReason  string    `json:"failure_reason,omitempty"`
	OrderCreatedAt time.Time `json:"order_created_at"`
	RequestID      string    `json:"request_id,omitempty"`
}

func orderPayload(ev orderevent.Event) ([]byte, error) {
	return json.Marshal(Payload{Type: ev.Type, Timestamp: time.UnixMilli(ev.OccurredAtMs).UTC(), Data: OrderData{
		EventID: ev.EventID, OrderID: ev.OrderID, Environment: ev.Environment, ProductID: ev.ProductID,
		AmountCents: ev.AmountCents, Currency: ev.Currency, FailureReason: ev.FailureReason,
		OrderCreatedAt: time.UnixMilli(ev.OrderCreatedAtMs).UTC(), RequestID: ev.RequestID,
	}})
}
