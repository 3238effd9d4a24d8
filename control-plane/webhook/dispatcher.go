package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// OrderEventsTopic is the Kafka topic of order events.
const OrderEventsTopic = "steller.order-events.v1"

// DispatcherConfig configures the Dispatcher.
type DispatcherConfig struct {
	// Brokers are the Kafka bootstrap addresses (required).
	Brokers []string
	// Topic is the order event topic; OrderEventsTopic when empty.
	Topic string
	// GroupID is the consumer group; "steller-webhook-dispatcher" when empty.
	GroupID string
	// Service fans events out (required).
	Service *Service
	// Logger (required).
	Logger *slog.Logger
	// SessionTimeout of the consumer group; 10 s when zero (tests shorten it).
	SessionTimeout time.Duration
}

// Dispatcher consumes order events and turns each into delivery jobs: deliveries and
// jobs are committed in PostgreSQL first, the Kafka offset after, so a crash replays
// events and the unique (event_id, endpoint_id) drops the replays.
type Dispatcher struct {
	cfg DispatcherConfig
	log *slog.Logger
}

// NewDispatcher checks cfg and returns the Dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if len(cfg.Brokers) == 0 || cfg.Service == nil || cfg.Logger == nil {
		return nil, errors.New("webhook.NewDispatcher: Brokers, Service and Logger are required")
	}
	if cfg.Topic == "" {
		cfg.Topic = OrderEventsTopic
	}
	if cfg.GroupID == "" {
		cfg.GroupID = "steller-webhook-dispatcher"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	return &Dispatcher{cfg: cfg, log: cfg.Logger.With("component", "webhook-dispatcher")}, nil
}

// Run consumes until ctx ends; it returns nil on cancellation.
func (d *Dispatcher) Run(ctx context.Context) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: d.cfg.Brokers, GroupID: d.cfg.GroupID, Topic: d.cfg.Topic,
		StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond,
		// Offsets of stored events are committed in the background every 200 ms: a crash
		// replays at most that much, and replays are deduplicated.
		CommitInterval:    200 * time.Millisecond,
		HeartbeatInterval: d.cfg.SessionTimeout / 5, SessionTimeout: d.cfg.SessionTimeout,
	})
	defer func() {
		if err := r.Close(); err != nil {
			d.log.Warn("close reader", "err", err)
		}
	}()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("webhook dispatcher: fetch: %w", err)
		}
		if err := d.handle(ctx, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("webhook dispatcher: commit: %w", err)
		}
	}
}

// handle stores one event's deliveries, retrying the database until it answers; an event
// that cannot be decoded is logged and skipped.
func (d *Dispatcher) handle(ctx context.Context, m kafka.Message) error {
	backoff := 100 * time.Millisecond
	for {
		n, err := d.cfg.Service.HandleOrderEvent(ctx, m.Value)
		if err == nil {
			if n > 0 {
				d.log.Debug("order event fanned out", "deliveries", n, "offset", m.Offset)
			}
			return nil
		}
		var decodeErr *decodeError
		if errors.As(err, &decodeErr) {
			d.log.Error("skipping undecodable order event", "partition", m.Partition, "offset", m.Offset, "err", err)
			return nil
		}
		d.log.Warn("storing deliveries failed; retrying", "offset", m.Offset, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
