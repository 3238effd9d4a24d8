package ingest

import (
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/steller/platform/analytics/deadletter"
)

// Headers on a dead-lettered message (analytics/deadletter), re-exported for readers of
// the ingest's DLQ.
const (
	// HeaderReason is one of the Reason constants.
	HeaderReason = deadletter.HeaderReason
	// HeaderError is the decoder's message, for people.
	HeaderError = deadletter.HeaderError
	// HeaderSourceTopic is the topic the message was read from.
	HeaderSourceTopic = deadletter.HeaderSourceTopic
	// HeaderSourcePartition is its partition, in decimal.
	HeaderSourcePartition = deadletter.HeaderSourcePartition
	// HeaderSourceOffset is its offset, in decimal.
	HeaderSourceOffset = deadletter.HeaderSourceOffset
	// HeaderDeadLetteredAt is when the ingest gave up on it, RFC 3339 UTC.
	HeaderDeadLetteredAt = deadletter.HeaderDeadLetteredAt
)

// deadLetterMessage builds the DLQ record for d.
func deadLetterMessage(d deadLetter, at time.Time) kafka.Message {
	return deadletter.Message(d.msg, d.why.reason, d.why.detail, at)
}

// HeaderValue returns the value of the first header named key, for readers of the DLQ.
func HeaderValue(msg kafka.Message, key string) (string, bool) {
	return deadletter.HeaderValue(msg, key)
}
