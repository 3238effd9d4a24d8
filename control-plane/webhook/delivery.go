package webhook

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/page"
)

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// Delivery is one event sent (or being sent) to one endpoint.
type Delivery struct {
	ID             string     `json:"id" db:"id"`
	EventID        string     `json:"event_id" db:"event_id" doc:"The webhook-id header: the same on every attempt and redelivery."`
	EndpointID     string     `json:"endpoint_id" db:"endpoint_id"`
	EventType      string     `json:"event_type" db:"event_type"`
	Status         string     `json:"status" db:"status" enum:"pending,delivered,failed"`
	Attempts       int        `json:"attempts" db:"attempts"`
	LastStatusCode *int       `json:"last_status_code,omitempty" db:"last_status_code"`
	LastError      string     `json:"last_error,omitempty" db:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty" db:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at" db:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at" db:"updated_at"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty" db:"delivered_at"`
}

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	Attempt         int       `json:"attempt" db:"attempt"`
	At              time.Time `json:"at" db:"at"`
	StatusCode      *int      `json:"status_code,omitempty" db:"status_code" doc:"Absent when no response came (timeout, refused, blocked address)."`
	LatencyMS       int       `json:"latency_ms" db:"latency_ms"`
	ResponseExcerpt string    `json:"response_excerpt" db:"response_excerpt" doc:"The first KiB of the response body."`
	Error           string    `json:"error,omitempty" db:"error"`
}

// DeliveryDetail is a delivery with all its attempts.
type DeliveryDetail struct {
	Delivery
	AttemptLog []Attempt `json:"attempt_log"`
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	EndpointID, EventType, Status string
	From, To                      *time.Time
	Cursor                        string
	Limit                         int
}

// DeliveryPage is one page of the delivery log.
type DeliveryPage struct {
	Deliveries []Delivery
	NextCursor string
}

// deliverArgs is the River job of one delivery; the job only names the delivery row,
// which holds the body and the endpoint.
type deliverArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (deliverArgs) Kind() string { return "webhook.deliver" }

// QueueName is the River queue deliveries run on.
const QueueName = "webhooks"

// enqueue inserts the delivery's job in tx.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, deliveryID string) error {
	_, err := s.queue.InsertTx(ctx, tx, deliverArgs{DeliveryID: deliveryID}, &river.InsertOpts{Queue: QueueName, MaxAttempts: MaxAttempts})
	return err
}

// fanOut inserts a delivery and its job for every subscribed endpoint, in tx; an event
// already delivered to an endpoint (a Kafka duplicate) adds nothing. It returns the
// number of new deliveries.
func (s *Service) fanOut(ctx context.Context, tx pgx.Tx, ev orderevent.Event) (int, error) {
	rows, _ := tx.Query(ctx, subscribersSQL, ev.PartnerID, ev.WorkspaceID, ev.Environment, ev.Type)
	endpoints, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(endpoints) == 0 {
		return 0, err
	}
	body, err := orderPayload(ev)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ep := range endpoints {
		id := ident.New("whd")
		tag, err := tx.Exec(ctx, insertDeliverySQL, id, ev.EventID, ep, ev.PartnerID, ev.WorkspaceID, ev.Type, string(body), s.now(), ev.RequestID)
		if err != nil {
			return 0, err
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		if err := s.enqueue(ctx, tx, id); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// HandleOrderEvent fans one order event (JSON of topic steller.order-events.v1) out to the
// subscribed endpoints in one transaction; a duplicate creates nothing.
func (s *Service) HandleOrderEvent(ctx context.Context, raw []byte) (int, error) {
	ev, err := decodeOrderEvent(raw)
	if err != nil {
		return 0, err
	}
	var n int
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err = s.fanOut(ctx, tx, ev)
		return err
	})
	return n, err
}

// SendTest queues a webhook.test event to one endpoint (enabled or not) and returns its delivery.
func (s *Service) SendTest(ctx context.Context, p auth.Principal, endpointID string) (Delivery, error) {
	ep, err := s.GetEndpoint(ctx, p, endpointID)
	if err != nil {
		return Delivery{}, err
	}
	now := s.now()
	eventID := ident.New("evt")
	body, err := json.Marshal(Payload{Type: EventTest, Timestamp: now.UTC(), Data: map[string]any{
		"event_id": eventID, "endpoint_id": ep.ID, "environment": ep.Environment, "message": "A test event from Steller.",
	}})
	if err != nil {
		return Delivery{}, err
	}
	id := ident.New("whd")
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Counted in tx: a send that fails to queue does not use up the partner's allowance.
		if s.tests != nil {
			if err := s.tests.Take(ctx, tx, p.PartnerID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, insertDeliverySQL, id, eventID, ep.ID, p.PartnerID, p.WorkspaceID, EventTest, string(body), now, ""); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, id)
	})
	if err != nil {
		return Delivery{}, interpretError(err)
	}
	return s.GetDelivery(ctx, p, id)
}

// GetDelivery returns one of the caller's deliveries.
func (s *Service) GetDelivery(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	rows, _ := s.pool.Query(ctx, getDeliverySQL, id, p.PartnerID, p.WorkspaceID)
	d, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Delivery])
	if err != nil {
		return Delivery{}, notFound(err, "webhook delivery")
	}
	return d, nil
}

// DeliveriesForRequest returns the deliveries (oldest first, at most 100) of the order
// events that one edge request caused, for the log explorer.
func (s *Service) DeliveriesForRequest(ctx context.Context, p auth.Principal, requestID string) ([]Delivery, error) {
	rows, _ := s.pool.Query(ctx, requestDeliveriesSQL, p.PartnerID, p.WorkspaceID, requestID)
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByName[Delivery])
	if err != nil {
		return nil, interpretError(err)
	}
	return ds, nil
}

// DeliveryWithAttempts returns a delivery and every attempt, oldest first.
func (s *Service) DeliveryWithAttempts(ctx context.Context, p auth.Principal, id string) (DeliveryDetail, error) {
	d, err := s.GetDelivery(ctx, p, id)
	if err != nil {
		return DeliveryDetail{}, err
	}
	rows, _ := s.pool.Query(ctx, listAttemptsSQL, id)
	attempts, err := pgx.CollectRows(rows, pgx.RowToStructByName[Attempt])
	if err != nil {
		return DeliveryDetail{}, interpretError(err)
	}
	return DeliveryDetail{Delivery: d, AttemptLog: attempts}, nil
}

// ListDeliveries returns a page of the caller's delivery log, newest first.
func (s *Service) ListDeliveries(ctx context.Context, p auth.Principal, f DeliveryFilter) (DeliveryPage, error) {
	c, ok, err := page.DecodeTimeKey(f.Cursor)
	if err != nil {
		return DeliveryPage{}, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	at, id := bound(c, ok)
	rows, _ := s.pool.Query(ctx, listDeliveriesSQL, p.PartnerID, p.WorkspaceID, at, id,
		f.EndpointID, f.EventType, f.Status, f.From, f.To, f.Limit+1)
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByName[Delivery])
	if err != nil {
		return DeliveryPage{}, interpretError(err)
	}
	out := DeliveryPage{Deliveries: ds}
	if len(ds) > f.Limit {
		out.Deliveries = ds[:f.Limit]
		last := out.Deliveries[f.Limit-1]
		out.NextCursor = page.TimeKey{At: last.CreatedAt, ID: last.ID}.Encode()
	}
	return out, nil
}

// Redeliver sends a finished delivery again, with the same webhook-id and body. A
// delivery still pending is a conflict.
func (s *Service) Redeliver(ctx context.Context, p auth.Principal, id string) (Delivery, error) {
	if _, err := s.GetDelivery(ctx, p, id); err != nil {
		return Delivery{}, err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, requeueSQL, id, p.PartnerID, p.WorkspaceID, s.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fault.New(fault.ErrConflict, "the delivery is still pending")
		}
		return s.enqueue(ctx, tx, id)
	})
	if err != nil {
		return Delivery{}, interpretError(err)
	}
	return s.GetDelivery(ctx, p, id)
}

// RedeliverFailed sends again every failed delivery created since since (of one endpoint
// when endpointID is set) and returns how many were queued.
func (s *Service) RedeliverFailed(ctx context.Context, p auth.Principal, since time.Time, endpointID string) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, requeueFailedSQL, p.PartnerID, p.WorkspaceID, since, endpointID, s.now())
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.enqueue(ctx, tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, interpretError(err)
}
