package topic_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/internal/testenv"
)

func partitions(t *testing.T, brokers []string, name string) int {
	t.Helper()
	conn, err := kafka.Dial("tcp", brokers[0])
	require.NoError(t, err)
	defer conn.Close()
	parts, err := conn.ReadPartitions(name)
	require.NoError(t, err)
	return len(parts)
}

func TestEnsureCreatesMissingTopicsAndLeavesExistingOnes(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	existing := k.Topic(t, "existing", 2)
	fresh := existing + ".fresh"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = topic.Delete(context.Background(), k.Brokers, fresh) })

	specs := []topic.Spec{{Name: existing, Partitions: 5, ReplicationFactor: 1}, {Name: fresh, Partitions: 4, ReplicationFactor: 1}}
	require.NoError(t, topic.Ensure(ctx, k.Brokers, specs))
	require.NoError(t, topic.Ensure(ctx, k.Brokers, specs), "a second run must succeed")

	assert.Equal(t, 2, partitions(t, k.Brokers, existing), "an existing topic was changed")
	assert.Equal(t, 4, partitions(t, k.Brokers, fresh))
}

func TestPingFailsWithoutBrokers(t *testing.T) {
	t.Parallel()
	assert.ErrorContains(t, topic.Ping(context.Background(), nil), "no Kafka brokers")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	assert.ErrorContains(t, topic.Ping(ctx, []string{"127.0.0.1:1"}), "no broker reachable")
}

func TestDefaultsNameTheVersionedTopics(t *testing.T) {
	t.Parallel()
	names := []string{}
	for _, s := range topic.Defaults(3) {
		names = append(names, s.Name)
		assert.Equal(t, 3, s.ReplicationFactor)
		assert.Positive(t, s.Partitions)
	}
	assert.Equal(t, []string{"steller.request-logs.v1", "steller.order-events.v1"}, names)
}

func TestSummarizeWriteErrorsCountsAndKeepsTheFirst(t *testing.T) {
	t.Parallel()
	refused := errors.New("connection refused")
	werrs := kafka.WriteErrors{nil, refused, refused}
	got := topic.SummarizeWriteErrors(fmt.Errorf("write: %w", werrs))
	assert.Equal(t, "2 of 3 messages failed, first: connection refused", got.Error())
	assert.ErrorIs(t, got, refused)
	other := errors.New("dial: no route")
	assert.Same(t, other, topic.SummarizeWriteErrors(other))
}

func TestOrderedWriterKeepsABatchInOneProduce(t *testing.T) {
	t.Parallel()
	w, transport := topic.NewOrderedWriter(topic.WriterConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t", ClientID: "c",
		WriteTimeout: 20 * time.Second, BatchSize: 500, BatchBytes: 1 << 20, Compression: kafka.Lz4})
	defer w.Close()
	assert.IsType(t, &kafka.Hash{}, w.Balancer)
	assert.Equal(t, kafka.RequireAll, w.RequiredAcks)
	assert.Equal(t, 500, w.BatchSize)
	assert.EqualValues(t, 1<<20, w.BatchBytes)
	assert.Equal(t, time.Millisecond, w.BatchTimeout)
	assert.Equal(t, kafka.Lz4, w.Compression)
	assert.Equal(t, 5*time.Second, transport.DialTimeout, "the dial is bounded at 5 s")
	assert.Equal(t, "c", transport.ClientID)
}
