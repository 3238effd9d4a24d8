package sandbox

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/mail"
	"time"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/contract/problem"
)

// Order statuses.
const (
	StatusPending   = "pending"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// EnvironmentTest is the only environment the sandbox serves (ModeSandbox).
const EnvironmentTest = "test"

const (
	reasonOutOfStock = orderevent.ReasonOutOfStock
	reasonTimeout    = orderevent.ReasonTimeout
)

// Limits on order inputs.
const (
	maxIdempotencyKey = 255
	maxMetadataKeys   = 20
	maxMetadataKey    = 40
	maxMetadataValue  = 500
	maxRecipientName  = 200
	maxBody           = 64 << 10
)

// Recipient is who the card is for; optional and only echoed back by the sandbox.
type Recipient struct {
	// Email is the recipient's address.
	Email string `json:"email,omitempty" nullable:"true" maxLength:"254" doc:"A plain address, no display name; empty or null is absent."`
	// Name is the recipient's name.
	Name string `json:"name,omitempty" nullable:"true" maxLength:"200" doc:"The recipient's name."`
}

// OrderRequest is the body of POST /v1/orders.
type OrderRequest struct {
	// ProductID names a catalog product.
	ProductID string `json:"product_id" minLength:"1" doc:"A product id from GET /v1/catalog." example:"sbx_amazing_books"`
	// AmountCents is the card's face value in cents.
	AmountCents int64 `json:"amount_cents" minimum:"1" doc:"The face value in cents: one of the product's denominations or within its range. Sandbox magic amounts: 13 fails with vendor_out_of_stock, 42 with vendor_timeout." example:"2500"`
	// Recipient is optional.
	Recipient *Recipient `json:"recipient,omitempty" doc:"Who the card is for; only echoed back."`
	// Metadata is up to 20 string pairs kept with the order.
	Metadata map[string]string `json:"metadata,omitempty" maxProperties:"20" doc:"Up to 20 string pairs kept with the order: keys 1 to 40 bytes, values at most 500 bytes."`
}

// validate checks the request against the catalog (with or without the magic values) and
// the limits, and normalises it (an empty recipient or metadata becomes absent) so equal
// requests hash equally.
func (r *OrderRequest) validate(magic bool) []problem.FieldError {
	var errs []problem.FieldError
	p, ok := findProduct(r.ProductID, magic)
	if !ok {
		errs = append(errs, problem.FieldError{Location: "body.product_id", Message: "unknown product; GET /v1/catalog lists them", Value: r.ProductID})
	} else if msg := p.checkAmount(r.AmountCents, magic); msg != "" {
		errs = append(errs, problem.FieldError{Location: "body.amount_cents", Message: msg, Value: r.AmountCents})
	}
	if r.Recipient != nil {
		if *r.Recipient == (Recipient{}) {
			r.Recipient = nil
		} else {
			if r.Recipient.Email != "" {
				if a, err := mail.ParseAddress(r.Recipient.Email); err != nil || a.Address != r.Recipient.Email || len(r.Recipient.Email) > 254 {
					errs = append(errs, problem.FieldError{Location: "body.recipient.email", Message: "must be a plain email address", Value: r.Recipient.Email})
				}
			}
			if len(r.Recipient.Name) > maxRecipientName {
				errs = append(errs, problem.FieldError{Location: "body.recipient.name", Message: fmt.Sprintf("must be at most %d bytes", maxRecipientName)})
			}
		}
	}
	if len(r.Metadata) == 0 {
		r.Metadata = nil
	}
	if len(r.Metadata) > maxMetadataKeys {
		errs = append(errs, problem.FieldError{Location: "body.metadata", Message: fmt.Sprintf("at most %d keys", maxMetadataKeys)})
	}
	for k, val := range r.Metadata {
		if k == "" || len(k) > maxMetadataKey {
			errs = append(errs, problem.FieldError{Location: "body.metadata", Message: fmt.Sprintf("keys must be 1 to %d bytes", maxMetadataKey), Value: k})
		}
		if len(val) > maxMetadataValue {
			errs = append(errs, problem.FieldError{Location: "body.metadata." + k, Message: fmt.Sprintf("values must be at most %d bytes", maxMetadataValue)})
		}
	}
	return errs
}

// hash is the SHA-256 of the request's canonical JSON (struct fields in order, map keys
// sorted), which decides whether a reused Idempotency-Key comes with the same request.
func (r *OrderRequest) hash() []byte {
	raw, _ := json.Marshal(r) // plain strings, numbers and maps cannot fail
	sum := sha256.Sum256(raw)
	return sum[:]
}

// Order is an order as the API returns it.
type Order struct {
	// ID is the order id (ord_…).
	ID string `json:"id" doc:"The order id."`
	// Status is StatusPending, StatusCompleted or StatusFailed.
	Status string `json:"status" enum:"pending,completed,failed" doc:"pending, then completed or failed."`
	// ProductID is the product ordered.
	ProductID string `json:"product_id" doc:"The product ordered."`
	// AmountCents is the face value in cents.
	AmountCents int64 `json:"amount_cents" doc:"The face value in cents."`
	// Currency is Currency.
	Currency string `json:"currency" enum:"USD" doc:"ISO 4217 currency code."`
	// Recipient is as given, or null.
	Recipient *Recipient `json:"recipient" doc:"As given, or null."`
	// Metadata is as given, or null.
	Metadata map[string]string `json:"metadata" nullable:"true" doc:"As given, or null."`
	// FailureReason is a stable code once failed, else null.
	FailureReason *string `json:"failure_reason" enum:"vendor_out_of_stock,vendor_timeout" doc:"Why it failed; null unless failed."`
	// Card is the gift card once completed, else null.
	Card *Card `json:"card" doc:"The gift card; null unless completed."`
	// RequestID is the X-Request-Id of the request that created the order.
	RequestID string `json:"request_id" doc:"The edge's X-Request-Id of the request that created the order."`
	// CreatedAt is when the order was accepted (RFC 3339).
	CreatedAt time.Time `json:"created_at" doc:"When the order was accepted."`
	// FinishedAt is when it completed or failed, else null.
	FinishedAt *time.Time `json:"finished_at" doc:"When it completed or failed; null while pending."`
}

// orderRow is one sandbox_orders row.
type orderRow struct {
	ID             string            `db:"id"`
	PartnerID      string            `db:"partner_id"`
	WorkspaceID    string            `db:"workspace_id"`
	KeyID          string            `db:"key_id"`
	RequestID      string            `db:"request_id"`
	IdempotencyKey string            `db:"idempotency_key"`
	RequestHash    []byte            `db:"request_hash"`
	ProductID      string            `db:"product_id"`
	AmountCents    int64             `db:"amount_cents"`
	Currency       string            `db:"currency"`
	Recipient      *Recipient        `db:"recipient"`
	Metadata       map[string]string `db:"metadata"`
	Status         string            `db:"status"`
	PlannedOutcome string            `db:"planned_outcome"`
	FailureReason  *string           `db:"failure_reason"`
	CompleteAfter  time.Time         `db:"complete_after"`
	CreatedAt      time.Time         `db:"created_at"`
	FinishedAt     *time.Time        `db:"finished_at"`
}

// order is the row as the API shows it; cards are made as the vendor's mode makes them.
func (o orderRow) order(m modeSpec) Order {
	out := Order{
		ID: o.ID, Status: o.Status, ProductID: o.ProductID, AmountCents: o.AmountCents, Currency: o.Currency,
		Recipient: o.Recipient, Metadata: o.Metadata, FailureReason: o.FailureReason, RequestID: o.RequestID,
		CreatedAt: o.CreatedAt.UTC(),
	}
	if o.FinishedAt != nil {
		t := o.FinishedAt.UTC()
		out.FinishedAt = &t
	}
	if o.Status == StatusCompleted {
		c := cardFor(m.cardPrefix, m.cardKey, o.ID)
		out.Card = &c
	}
	return out
}

// event is the order event of a state change of the row, in the vendor's environment.
func (v *Vendor) event(o orderRow, eventType string, at time.Time) orderevent.Event {
	e := orderevent.Event{
		SchemaVersion: orderevent.SchemaVersion, EventID: orderevent.ID(o.ID, eventType), Type: eventType,
		OrderID: o.ID, PartnerID: o.PartnerID, WorkspaceID: o.WorkspaceID, Environment: v.mode.environment,
		ProductID: o.ProductID, AmountCents: o.AmountCents, Currency: o.Currency,
		OrderCreatedAtMs: o.CreatedAt.UnixMilli(), OccurredAtMs: at.UnixMilli(), RequestID: o.RequestID,
	}
	if eventType == orderevent.TypeFailed && o.FailureReason != nil {
		e.FailureReason = *o.FailureReason
	}
	return e
}
