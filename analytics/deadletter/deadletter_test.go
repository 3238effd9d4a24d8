package deadletter_test

import (
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/analytics/deadletter"
)

func TestMessageKeepsTheOriginalAndAddsTheReason(t *testing.T) {
	t.Parallel()
	src := kafka.Message{
		Topic: "steller.request-logs.v1", Partition: 3, Offset: 42, Key: []byte("ptr_1"), Value: []byte("{oops"),
		Headers: []kafka.Header{{Key: "trace", Value: []byte("abc")}},
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := deadletter.Message(src, "invalid_json", strings.Repeat("x", 600), at)
	assert.Equal(t, src.Key, got.Key)
	assert.Equal(t, src.Value, got.Value)
	for key, want := range map[string]string{
		"trace": "abc", deadletter.HeaderReason: "invalid_json", deadletter.HeaderSourceTopic: "steller.request-logs.v1",
		deadletter.HeaderSourcePartition: "3", deadletter.HeaderSourceOffset: "42", deadletter.HeaderDeadLetteredAt: "2026-01-02T03:04:05Z",
	} {
		v, ok := deadletter.HeaderValue(got, key)
		assert.True(t, ok, key)
		assert.Equal(t, want, v, key)
	}
	detail, _ := deadletter.HeaderValue(got, deadletter.HeaderError)
	assert.Len(t, detail, 512, "the error detail is bounded")
	_, ok := deadletter.HeaderValue(got, "missing")
	assert.False(t, ok)
}
