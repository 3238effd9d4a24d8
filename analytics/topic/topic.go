// Package topic owns the names and shapes of Steller's Kafka topics and creates them on a
// cluster, so every producer and consumer agrees on them.
package topic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topic names; the suffix is the major version of the event schema they carry.
const (
	// RequestLogs carries one request-log event per edge request, keyed by partner id.
	RequestLogs = "steller.request-logs.v1"
	// OrderEvents carries order state changes, keyed by partner id.
	OrderEvents = "steller.order-events.v1"
)

// Spec is a topic to create.
type Spec struct {
	// Name is the topic name.
	Name string
	// Partitions bounds how far consumers scale out.
	Partitions int
	// ReplicationFactor is 1 on a local broker and 3 in production.
	ReplicationFactor int
}

// Defaults are the platform's topics with local partition counts.
func Defaults(replication int) []Spec {
	return []Spec{
		{Name: RequestLogs, Partitions: 6, ReplicationFactor: replication},
		{Name: OrderEvents, Partitions: 3, ReplicationFactor: replication},
	}
}

// Ensure creates the topics that do not exist yet; existing ones are left as they are.
// It returns once the broker's metadata lists every topic, so they are ready to use.
func Ensure(ctx context.Context, brokers []string, specs []Spec) error {
	conn, err := dialController(ctx, brokers)
	if err != nil {
		return err
	}
	defer conn.Close()
	configs := make([]kafka.TopicConfig, 0, len(specs))
	for _, s := range specs {
		configs = append(configs, kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: s.ReplicationFactor})
	}
	if err := conn.CreateTopics(configs...); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("topic: create: %w", err)
	}
	return awaitMetadata(ctx, conn, specs)
}

// awaitMetadata polls until every topic has partitions in the metadata the broker serves:
// a topic is created on the controller first and reaches metadata moments later.
func awaitMetadata(ctx context.Context, conn *kafka.Conn, specs []Spec) error {
	for {
		missing := ""
		for _, s := range specs {
			parts, err := conn.ReadPartitions(s.Name)
			if err != nil || len(parts) == 0 {
				missing = s.Name
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic: %s not in metadata: %w", missing, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Delete removes topics (tests clean up after themselves with it).
func Delete(ctx context.Context, brokers []string, names ...string) error {
	conn, err := dialController(ctx, brokers)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.DeleteTopics(names...)
}

// Ping checks that a broker answers and the cluster has a controller.
func Ping(ctx context.Context, brokers []string) error {
	conn, err := dialController(ctx, brokers)
	if err != nil {
		return err
	}
	return conn.Close()
}

// dialController connects to the first reachable broker, then to the cluster's
// controller, which is the broker that accepts topic changes.
func dialController(ctx context.Context, brokers []string) (*kafka.Conn, error) {
	if len(brokers) == 0 {
		return nil, errors.New("topic: no Kafka brokers configured")
	}
	var d kafka.Dialer
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := conn.Controller()
		conn.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return d.DialContext(ctx, "tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	}
	return nil, fmt.Errorf("topic: no broker reachable: %w", errors.Join(errs...))
}

// WriterConfig configures NewOrderedWriter.
type WriterConfig struct {
	// Brokers are the bootstrap addresses; Topic the topic written.
	Brokers []string
	Topic   string
	// ClientID names the producer to the brokers.
	ClientID string
	// WriteTimeout bounds each request to a broker (and the dial, up to 5 s).
	WriteTimeout time.Duration
	// BatchSize and BatchBytes bound one produce; zero keeps kafka-go's defaults. They
	// must be at least what the caller hands over in one WriteMessages.
	BatchSize  int
	BatchBytes int64
	// Compression of the produced batches; zero is none.
	Compression kafka.Compression
}

// NewOrderedWriter returns a Writer for callers that hand over whole batches and wait for
// each: keyed by hash (one key, one partition), acknowledged by every in-sync replica, sent
// at once (BatchTimeout only delays such callers) and with a batch's share of a partition
// in one produce, so a retry cannot land a batch's first half after its second. It retries
// within 3 attempts. The caller closes the Writer, then the Transport's idle connections.
func NewOrderedWriter(cfg WriterConfig) (*kafka.Writer, *kafka.Transport) {
	transport := &kafka.Transport{DialTimeout: min(cfg.WriteTimeout, 5*time.Second), ClientID: cfg.ClientID}
	return &kafka.Writer{
		Addr:            kafka.TCP(cfg.Brokers...),
		Topic:           cfg.Topic,
		Balancer:        &kafka.Hash{},
		RequiredAcks:    kafka.RequireAll,
		Compression:     cfg.Compression,
		BatchSize:       cfg.BatchSize,
		BatchBytes:      cfg.BatchBytes,
		BatchTimeout:    time.Millisecond,
		MaxAttempts:     3,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		ReadTimeout:     cfg.WriteTimeout,
		WriteTimeout:    cfg.WriteTimeout,
		Transport:       transport,
	}, transport
}

// SummarizeWriteErrors shortens a Writer's error for logs and callers: kafka.WriteErrors
// holds one error per message, which for a batch of a thousand is a thousand copies of
// "connection refused"; it becomes a count and the first error (still matched by
// errors.Is/As). Other errors are returned as they are.
func SummarizeWriteErrors(err error) error {
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) {
		return err
	}
	for _, e := range werrs {
		if e != nil {
			return fmt.Errorf("%d of %d messages failed, first: %w", werrs.Count(), len(werrs), e)
		}
	}
	return err
}
