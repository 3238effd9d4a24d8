package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/deadletter"
	"github.com/steller/platform/analytics/topic"
)

// OrderEventsTopic is the Kafka topic of order events.
const OrderEventsTopic = topic.OrderEvents

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
	// DeadLetterTopic receives order events that can never be handled; Topic + ".dlq"
	// when empty. Run creates it if missing.
	DeadLetterTopic string
	// DeadLetterReplication is the dead-letter topic's replication factor when Run creates
	// it; 1 when zero.
	DeadLetterReplication int
}

// Dispatcher consumes order events and turns each into delivery jobs: deliveries and
// jobs are committed in PostgreSQL first, the Kafka offset after, so a crash replays
// events and the unique (event_id, endpoint_id) drops the replays. An event that breaks the
// contract goes to the dead-letter topic with the reason, and the partition moves on.
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
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = cfg.Topic + deadletter.Suffix
	}
	if cfg.DeadLetterTopic == cfg.Topic {
		return nil, errors.New("webhook.NewDispatcher: DeadLetterTopic must differ from Topic")
	}
	if cfg.DeadLetterReplication <= 0 {
		cfg.DeadLetterReplication = 1
	}
	return &Dispatcher{cfg: cfg, log: cfg.Logger.With("component", "webhook-dispatcher")}, nil
}

// Run consumes until ctx ends; it returns nil on cancellation.
func (d *Dispatcher) Run(ctx context.Context) error {
	dlq, err := deadletter.NewWriter(ctx, d.cfg.Brokers, d.cfg.DeadLetterTopic, d.cfg.DeadLetterReplication)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("webhook dispatcher: dead-letter topic: %w", err)
	}
	defer func() {
		if err := dlq.Close(); err != nil {
			d.log.Warn("close dead-letter writer", "err", err)
		}
	}()
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
		if err := d.handle(ctx, dlq, m); err != nil {
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

// ReasonInvalidEvent is the dead-letter reason of an order event that breaks the contract.
const ReasonInvalidEvent = "invalid_order_event"

// handle stores one event's deliveries, or dead-letters an event that breaks the contract,
// retrying the database or Kafka until it answers.
func (d *Dispatcher) handle(ctx context.Context, dlq *kafka.Writer, m kafka.Message) error {
	return retry(ctx, d.log, "store deliveries", func() error {
		n, err := d.cfg.Service.HandleOrderEvent(ctx, m.Value)
		var decodeErr *decodeError
		if errors.As(err, &decodeErr) {
			return retry(ctx, d.log, "dead-letter write", func() error {
				if err := dlq.WriteMessages(ctx, deadletter.Message(m, ReasonInvalidEvent, err.Error(), time.Now())); err != nil {
					return err
				}
				d.log.Error("dead-lettered an order event", "topic", d.cfg.DeadLetterTopic, "partition", m.Partition,
					"offset", m.Offset, "err", err)
				return nil
			})
		}
		if err == nil && n > 0 {
			d.log.Debug("order event fanned out", "deliveries", n, "offset", m.Offset)
		}
		return err
	})
}

// retry runs op until it succeeds or ctx ends, backing off from 100 ms to 10 s.
func retry(ctx context.Context, log *slog.Logger, what string, op func() error) error {
	backoff := 100 * time.Millisecond
	for {
		err := op()
		if err == nil {
			return nil
		}
		log.Warn(what+" failed; retrying", "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
