// Package deadletter owns the shape of a dead-lettered Kafka message, shared by every
// consumer that gives up on a message (the request-log ingest, the webhook dispatcher): the
// key, value and original headers are kept as they were, so the message can be replayed
// once the cause is fixed, and headers say why, from where and when.
package deadletter

import (
	"context"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/topic"
)

// Headers added to a dead-lettered message.
const (
	// HeaderReason is a short stable code for why the message was given up on.
	HeaderReason = "steller-dlq-reason"
	// HeaderError is the consumer's message, for people.
	HeaderError = "steller-dlq-error"
	// HeaderSourceTopic is the topic the message was read from.
	HeaderSourceTopic = "steller-dlq-source-topic"
	// HeaderSourcePartition is its partition, in decimal.
	HeaderSourcePartition = "steller-dlq-source-partition"
	// HeaderSourceOffset is its offset, in decimal.
	HeaderSourceOffset = "steller-dlq-source-offset"
	// HeaderDeadLetteredAt is when the consumer gave up on it, RFC 3339 UTC.
	HeaderDeadLetteredAt = "steller-dlq-at"
)

// Suffix names a topic's dead-letter topic: "<topic>.dlq".
const Suffix = ".dlq"

// maxErrorHeader bounds the error text carried in a header.
const maxErrorHeader = 512

// NewWriter creates the dead-letter topic name if it is missing (one partition: dead
// letters are rare and read by people) and returns a Writer for it that waits for every
// in-sync replica, so a consumer moves past a message only once its dead letter is safe.
// The caller closes the Writer.
func NewWriter(ctx context.Context, brokers []string, name string, replication int) (*kafka.Writer, error) {
	if err := topic.Ensure(ctx, brokers, []topic.Spec{{Name: name, Partitions: 1, ReplicationFactor: replication}}); err != nil {
		return nil, err
	}
	return &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: name,
		Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond,
	}, nil
}

// Message returns the dead-letter record of src: its key, value and headers, plus the
// reason, the (bounded) error detail, where it came from and when.
func Message(src kafka.Message, reason, detail string, at time.Time) kafka.Message {
	if len(detail) > maxErrorHeader {
		detail = detail[:maxErrorHeader]
	}
	headers := make([]kafka.Header, 0, len(src.Headers)+6)
	headers = append(headers, src.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderReason, Value: []byte(reason)},
		kafka.Header{Key: HeaderError, Value: []byte(detail)},
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(src.Topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(src.Partition))},
		kafka.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
		kafka.Header{Key: HeaderDeadLetteredAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
	)
	return kafka.Message{Key: src.Key, Value: src.Value, Headers: headers}
}

// HeaderValue returns the value of the first header named key, for readers of a DLQ.
func HeaderValue(msg kafka.Message, key string) (string, bool) {
	for _, h := range msg.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
