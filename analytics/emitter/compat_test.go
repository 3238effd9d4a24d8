package emitter_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/steller/platform/internal/testenv"
)

// TestBrokerCompatibility runs the same produce / consume / consumer-group round trip
// against the real Apache Kafka test broker (4.1 here) and against kfake capped to the Kafka 3.9 and
// 4.0 protocols, so a kafka-go regression against one of them (as v0.4.47 had with 4.0's
// JoinGroup) fails here. It is also the happy-path test: N events emitted give exactly N
// distinct request ids, keyed by partner, in order per partner.
func TestBrokerCompatibility(t *testing.T) {
	t.Parallel()
	kfakeAt := func(v *kversion.Versions) func(t *testing.T) ([]string, string) {
		return func(t *testing.T) ([]string, string) {
			const name = "steller.request-logs.v1"
			c, _ := startKfake(t, 0, "", name, kfake.MaxVersions(v), kfake.GroupMinSessionTimeout(100*time.Millisecond))
			t.Cleanup(c.Close)
			return c.ListenAddrs(), name
		}
	}
	cases := []struct {
		name   string
		broker func(t *testing.T) (brokers []string, topicName string)
	}{
		{name: "apache-kafka", broker: func(t *testing.T) ([]string, string) {
			k := testenv.NewKafka(t)
			return k.Brokers, k.Topic(t, "request-logs", testPartitions)
		}},
		{name: "kfake-3.9", broker: kfakeAt(kversion.V3_9_0())},
		{name: "kfake-4.0", broker: kfakeAt(kversion.V4_0_0())},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			brokers, topicName := tc.broker(t)
			group := fmt.Sprintf("emitter-compat-%d", time.Now().UnixNano())
			const n = 1000

			emitRange(t, brokers, topicName, 0, n)
			first := readGroup(t, brokers, topicName, group, n)
			checkDelivered(t, [][]kafka.Message{first}, seqs(0, n))

			// The group committed its offsets: a new member of it sees only what came after.
			emitRange(t, brokers, topicName, n, 2*n)
			second := readGroup(t, brokers, topicName, group, n)
			checkDelivered(t, [][]kafka.Message{second}, seqs(n, 2*n))
		})
	}
}

// emitRange sends events [from, to) through a fresh emitter and closes it.
func emitRange(t *testing.T, brokers []string, topicName string, from, to int) {
	t.Helper()
	e := newEmitter(t, brokers, topicName, t.TempDir(), nil)
	for i := from; i < to; i++ {
		e.Emit(event(i, 10))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, e.Close(ctx))
	s := e.Stats()
	assert.Equal(t, uint64(to-from), s.Sent, "stats %+v", s)
	assert.Zero(t, s.Spooled)
}

// readGroup joins the consumer group, reads n messages, commits them and leaves.
func readGroup(t *testing.T, brokers []string, topicName, group string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: group, Topic: topicName,
		MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset,
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 6 * time.Second,
	})
	defer func() { assert.NoError(t, r.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for len(msgs) < n {
		m, err := r.FetchMessage(ctx)
		require.NoError(t, err, "after %d of %d messages", len(msgs), n)
		msgs = append(msgs, m)
	}
	require.NoError(t, r.CommitMessages(ctx, msgs...))
	// Nothing beyond n: a short read must time out empty.
	short, cancelShort := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelShort()
	if m, err := r.FetchMessage(short); err == nil {
		t.Errorf("unexpected extra message at partition %d offset %d", m.Partition, m.Offset)
	}
	return msgs
}
