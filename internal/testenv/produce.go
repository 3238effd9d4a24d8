package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Produce writes msgs to topic in order, keyed as given (hashed to partitions as the
// platform's producers do), and waits for every broker's acknowledgement; it fails the test
// on any other error. A topic created moments ago may not be in the writer's metadata yet:
// then nothing of a chunk was written, and it is sent again.
func Produce(t testing.TB, brokers []string, topic string, msgs []kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 10_000, BatchBytes: 16 << 20, BatchTimeout: 5 * time.Millisecond, Compression: kafka.Lz4,
		Transport: &kafka.Transport{}}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for start := 0; start < len(msgs); start += 10_000 {
		chunk := msgs[start:min(start+10_000, len(msgs))]
		for attempt := 0; ; attempt++ {
			err := w.WriteMessages(ctx, chunk...)
			if errors.Is(err, kafka.UnknownTopicOrPartition) && attempt < 50 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("testenv: produce %d messages to %s: %v", len(chunk), topic, err)
			}
			break
		}
	}
}
