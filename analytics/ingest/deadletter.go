package ingest

import (
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Headers on a dead-lettered message; the key, value and original headers are kept as
// they were, so the message can be replayed once the cause is fixed.
const (
	// HeaderReason is one of the Reason constants.
	HeaderReason = "steller-dlq-reason"
	// HeaderError is the decoder's message, for people.
	HeaderError = "steller-dlq-error"
	// HeaderSourceTopic is the topic the message was read from.
	HeaderSourceTopic = "steller-dlq-source-topic"
	// HeaderSourcePartition is its partition, in decimal.
	HeaderSourcePartition = "steller-dlq-source-partition"
	// HeaderSourceOffset is its offset, in decimal.
	HeaderSourceOffset = "steller-dlq-source-offset"
	// HeaderDeadLetteredAt is when the ingest gave up on it, RFC 3339 UTC.
	HeaderDeadLetteredAt = "steller-dlq-at"
)

// maxErrorHeader bounds the error text carried in a header.
const maxErrorHeader = 512

// deadLetterMessage builds the DLQ record for d.
func deadLetterMessage(d deadLetter, at time.Time) kafka.Message {
	detail := d.why.detail
	if len(detail) > maxErrorHeader {
		detail = detail[:maxErrorHeader]
	}
	headers := make([]kafka.Header, 0, len(d.msg.Headers)+6)
	headers = append(headers, d.msg.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderReason, Value: []byte(d.why.reason)},
		kafka.Header{Key: HeaderError, Value: []byte(detail)},
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(d.msg.Topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(d.msg.Partition))},
		kafka.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(d.msg.Offset, 10))},
		kafka.Header{Key: HeaderDeadLetteredAt, Value: []byte(at.UTC().Format(time.RFC3339Nano))},
	)
	return kafka.Message{Key: d.msg.Key, Value: d.msg.Value, Headers: headers}
}

// HeaderValue returns the value of the first header named key, for readers of the DLQ.
func HeaderValue(msg kafka.Message, key string) (string, bool) {
	for _, h := range msg.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
