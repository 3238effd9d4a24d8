package orderevent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/topic"
)

// DefaultWriteTimeout bounds one Publish when the Config leaves it zero.
const DefaultWriteTimeout = 10 * time.Second

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Brokers are the Kafka bootstrap addresses (required).
	Brokers []string
	// Topic is the topic to write; default topic.OrderEvents.
	Topic string
	// WriteTimeout bounds one Publish call, retries included; default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// Publisher writes order events to Kafka synchronously: Publish returns nil only once every
// in-sync replica has acknowledged every event. It is meant to be driven by an outbox (the
// caller marks events sent only after Publish succeeded), which makes delivery at least
// once; it never buffers or drops on its own.
type Publisher struct {
	w         *kafka.Writer
	transport *kafka.Transport
	timeout   time.Duration
}

// NewPublisher checks cfg and builds a Publisher; it does not connect until the first
// Publish.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("orderevent: no Kafka brokers configured")
	}
	if cfg.Topic == "" {
		cfg.Topic = topic.OrderEvents
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	// Keyed by partner id: one partner's events, and so each order's events, stay in one
	// partition in the order they were written. One produce holds up to 1,000 events: a
	// Publish of more could be split (the sandbox outbox publishes 100 at a time).
	w, transport := topic.NewOrderedWriter(topic.WriterConfig{Brokers: cfg.Brokers, Topic: cfg.Topic,
		ClientID: "steller-orderevent", WriteTimeout: cfg.WriteTimeout, BatchSize: 1000})
	return &Publisher{w: w, transport: transport, timeout: cfg.WriteTimeout}, nil
}

// Message encodes one event as the Kafka message the Publisher writes: the key is the
// partner id and the value the event's JSON.
func Message(e Event) (kafka.Message, error) {
	raw, err := Encode(e)
	if err != nil {
		return kafka.Message{}, err
	}
	return kafka.Message{Key: []byte(e.PartnerID), Value: raw}, nil
}

// Publish writes the events in the order given and returns once all are acknowledged. An
// error means some may have been written and some not: the caller sends them all again
// (consumers deduplicate on event_id). An event that breaks the contract fails the call
// before anything is sent.
func (p *Publisher) Publish(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(events))
	for i, e := range events {
		m, err := Message(e)
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	// The Writer retries within MaxAttempts; this deadline guards against a hang beyond
	// its own timeouts.
	ctx, cancel := context.WithTimeout(ctx, 2*p.timeout)
	defer cancel()
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("orderevent: publish %d events: %w", len(msgs), topic.SummarizeWriteErrors(err))
	}
	return nil
}

// Close releases the Writer's connections.
func (p *Publisher) Close() error {
	err := p.w.Close()
	p.transport.CloseIdleConnections()
	return err
}
