package ingest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/ingest"
	"github.com/steller/platform/analytics/orderquery"
	"github.com/steller/platform/analytics/orderquery/ordertest"
	"github.com/steller/platform/internal/testenv"
)

// Sandbox and live order events reach order_events; a duplicate (produced again after the
// first copy was committed, so the view sees it in a second insert) is counted once, a
// poison event goes to the dead-letter topic without stopping the partition, and the
// rollup's figures equal those computed from the raw events.
func TestOrderEventsAreStoredOnceAndRolledUpExactly(t *testing.T) {
	t.Parallel()
	e := setup(t, 1)
	e.topic = e.kafka.Topic(t, "orders", 1)
	e.group = "group-" + e.topic
	cfg := e.config()
	cfg.Stream, cfg.Topic, cfg.GroupID = ingest.Orders, e.topic, e.group
	start(t, cfg)

	now := time.Now().UTC().Add(-90 * time.Hour) // every final event (up to 28 h after its order) in the past
	evs := ordertest.Events("ing", 30, now, 97*time.Minute)
	var msgs []kafka.Message
	for _, ev := range evs {
		v, err := json.Marshal(ev)
		require.NoError(t, err)
		msgs = append(msgs, kafka.Message{Key: []byte(ev.PartnerID), Value: v})
	}
	poison := kafka.Message{Key: []byte("ptr_x"), Value: []byte(`{"schema_version":1,"event_id":"evt_x","type":"order.refunded"}`)}
	first := append(append([]kafka.Message{}, msgs[:10]...), poison)
	first = append(first, msgs[10:]...)
	testenv.Produce(t, e.kafka.Brokers, e.topic, first)
	require.Eventually(t, func() bool { return committed(t, e) == int64(len(first)) }, 60*time.Second, 50*time.Millisecond,
		"offsets committed past the poison event")
	testenv.Produce(t, e.kafka.Brokers, e.topic, msgs[:4]) // redelivered copies
	require.Eventually(t, func() bool { return committed(t, e) == int64(len(first)+4) }, 60*time.Second, 50*time.Millisecond)

	ctx := context.Background()
	var raw, distinct uint64
	require.NoError(t, e.ch.Conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM `"+e.ch.Database+"`.order_events").Scan(&raw, &distinct))
	assert.Equal(t, uint64(len(evs)), distinct)
	assert.GreaterOrEqual(t, raw, distinct)

	f := orderquery.Filter{From: now.AddDate(0, 0, -1), To: now.AddDate(0, 0, 6)}
	got, err := orderquery.Read(ctx, e.ch.Conn, e.ch.Database, f)
	require.NoError(t, err)
	all := append(append(evs[:0:0], evs...), evs[:4]...)
	assert.Equal(t, ordertest.Daily(all, f), got)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: e.kafka.Brokers, Topic: e.deadLetter, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, err := r.ReadMessage(rctx)
	require.NoError(t, err)
	assert.Equal(t, poison.Value, m.Value)
	reason, _ := ingest.HeaderValue(m, ingest.HeaderReason)
	assert.Equal(t, ingest.ReasonInvalidEvent, reason)
}
