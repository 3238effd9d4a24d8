package webhook_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/deadletter"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// TestPoisonOrderEventsGoToTheDeadLetterTopicAndThePartitionMovesOn: events that break the
// contract (not JSON, an unknown type, no workspace) are kept whole in the dead-letter topic
// with the reason and where they came from, and the events after them are delivered.
func TestPoisonOrderEventsGoToTheDeadLetterTopicAndThePartitionMovesOn(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	k := testenv.NewKafka(t)
	source, dlqTopic := k.Topic(t, "order-events", 1), k.Topic(t, "order-events-dlq", 1)
	rc := newReceiver(t, e.clock)
	ep := e.createEndpoint(t, rc.srv.URL, "order.completed")
	rc.setSecrets(ep.Secret)

	d, err := webhook.NewDispatcher(webhook.DispatcherConfig{Brokers: k.Brokers, Topic: source, GroupID: "wh-dlq-" + ep.ID,
		DeadLetterTopic: dlqTopic, Service: e.svc, Logger: slog.New(slog.DiscardHandler), SessionTimeout: 6 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); assert.NoError(t, <-done) }()

	unknownType := e.orderEvent("evt_u", "order.completed")
	unknownType = []byte(string(unknownType[:len(unknownType)-1]) + `,"type":"order.teleported"}`)
	noWorkspace := []byte(`{"schema_version":1,"event_id":"evt_w","type":"order.completed","order_id":"ord_w","partner_id":"ptr_x",` +
		`"environment":"test","product_id":"p","amount_cents":1,"currency":"USD","order_created_at_ms":1,"occurred_at_ms":1}`)
	poison := [][]byte{[]byte(`{not json`), unknownType, noWorkspace}
	// A topic just created can refuse writes for a moment while its leader is elected.
	w := &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: source, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for _, v := range append(poison, e.orderEvent("evt_ok", "order.completed")) {
		msgs = append(msgs, kafka.Message{Value: v})
	}
	require.Eventually(t, func() bool { return w.WriteMessages(context.Background(), msgs...) == nil }, 20*time.Second, 200*time.Millisecond)

	require.Eventually(t, func() bool { return rc.accepted()["evt_ok"] == 1 }, 20*time.Second, 50*time.Millisecond,
		"the event after the poison was not delivered")

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: dlqTopic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	readCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	for i, want := range poison {
		m, err := r.ReadMessage(readCtx)
		require.NoError(t, err, "dead letter %d", i)
		assert.Equal(t, string(want), string(m.Value), "dead letter %d is not the original message", i)
		reason, _ := deadletter.HeaderValue(m, deadletter.HeaderReason)
		assert.Equal(t, webhook.ReasonInvalidEvent, reason)
		from, _ := deadletter.HeaderValue(m, deadletter.HeaderSourceTopic)
		assert.Equal(t, source, from)
		offset, _ := deadletter.HeaderValue(m, deadletter.HeaderSourceOffset)
		assert.Equal(t, []string{"0", "1", "2"}[i], offset)
		detail, _ := deadletter.HeaderValue(m, deadletter.HeaderError)
		assert.NotEmpty(t, detail)
	}
	var n int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM webhook_deliveries`).Scan(&n))
	assert.Equal(t, 1, n, "a poison event made a delivery")
}
