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

// CommittedOffsets sums group's committed offsets over topic's first partitions (a
// partition without a commit counts 0): on a fresh topic, the messages committed.
func CommittedOffsets(brokers []string, group, topic string, partitions int) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	resp, err := client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return 0, p.Error
		}
		sum += max(p.CommittedOffset, 0)
	}
	return sum, nil
}

// Committed is CommittedOffsets, failing the test on an error. The group's coordinator may
// be moving or loading (a busy broker, a new group): Kafka says so with a retriable error,
// which means ask again, so it does for up to 10 s.
func Committed(t testing.TB, brokers []string, group, topic string, partitions int) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := CommittedOffsets(brokers, group, topic, partitions)
		var kerr kafka.Error
		if errors.As(err, &kerr) && kerr.Temporary() && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("testenv: committed offsets of %s on %s: %v", group, topic, err)
		}
		return n
	}
}
