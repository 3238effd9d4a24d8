package orderevent_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/internal/testenv"
)

func valid() orderevent.Event {
	return orderevent.Event{
		SchemaVersion: 1, EventID: "evt_ord_1_completed", Type: orderevent.TypeCompleted, OrderID: "ord_1",
		PartnerID: "ptr_1", WorkspaceID: "ws_1", Environment: "test", ProductID: "sbx_open_prepaid",
		AmountCents: 2500, Currency: "USD", OrderCreatedAtMs: 1_767_000_000_000, OccurredAtMs: 1_767_000_002_000,
		RequestID: "req_1",
	}
}

func TestIDIsStablePerOrderAndType(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		orderevent.TypeCreated:   "evt_ord_abc_created",
		orderevent.TypeCompleted: "evt_ord_abc_completed",
		orderevent.TypeFailed:    "evt_ord_abc_failed",
	}
	for typ, want := range cases {
		assert.Equal(t, want, orderevent.ID("ord_abc", typ))
	}
}

func TestJSONFieldNamesAreTheContract(t *testing.T) {
	t.Parallel()
	raw, err := orderevent.Encode(valid())
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	want := []string{"schema_version", "event_id", "type", "order_id", "partner_id", "workspace_id", "environment",
		"product_id", "amount_cents", "currency", "failure_reason", "order_created_at_ms", "occurred_at_ms", "request_id"}
	assert.Len(t, fields, len(want))
	for _, f := range want {
		assert.Contains(t, fields, f)
	}
}

func TestValidateAndDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*orderevent.Event)
		err    string
	}{
		{"valid", func(*orderevent.Event) {}, ""},
		{"valid failure", func(e *orderevent.Event) { e.Type, e.FailureReason = orderevent.TypeFailed, orderevent.ReasonTimeout }, ""},
		{"other version", func(e *orderevent.Event) { e.SchemaVersion = 2 }, "schema_version 2"},
		{"unknown type", func(e *orderevent.Event) { e.Type = "order.shipped" }, "unknown type"},
		{"failure without reason", func(e *orderevent.Event) { e.Type = orderevent.TypeFailed }, "failure_reason missing"},
		{"reason on success", func(e *orderevent.Event) { e.FailureReason = "x" }, "failure_reason set"},
		{"no partner", func(e *orderevent.Event) { e.PartnerID = "" }, "partner_id missing"},
		{"no amount", func(e *orderevent.Event) { e.AmountCents = 0 }, "amount_cents"},
		{"no times", func(e *orderevent.Event) { e.OccurredAtMs = 0 }, "times missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := valid()
			tc.change(&e)
			raw, _ := json.Marshal(e)
			got, err := orderevent.Decode(raw)
			if tc.err == "" {
				require.NoError(t, err)
				assert.Equal(t, e, got)
				return
			}
			require.ErrorIs(t, err, orderevent.ErrInvalid)
			assert.ErrorContains(t, err, tc.err)
			_, err = orderevent.Encode(e)
			assert.ErrorIs(t, err, orderevent.ErrInvalid, "nothing invalid is encoded")
		})
	}
}

func TestDecodeIgnoresFieldsAddedLater(t *testing.T) {
	t.Parallel()
	raw, err := orderevent.Encode(valid())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m["card_brand"] = "later"
	raw, err = json.Marshal(m)
	require.NoError(t, err)
	got, err := orderevent.Decode(raw)
	require.NoError(t, err)
	assert.Equal(t, valid(), got)
	_, err = orderevent.Decode([]byte(`{"schema_version":`))
	assert.ErrorIs(t, err, orderevent.ErrInvalid)
}

func TestNewPublisherNeedsBrokers(t *testing.T) {
	t.Parallel()
	_, err := orderevent.NewPublisher(orderevent.PublisherConfig{})
	assert.ErrorContains(t, err, "no Kafka brokers")
}

func TestPublishWritesKeyedByPartnerInOrder(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	name := k.Topic(t, "order-events", 1)
	p, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: k.Brokers, Topic: name})
	require.NoError(t, err)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	created := valid()
	created.Type, created.EventID = orderevent.TypeCreated, orderevent.ID("ord_1", orderevent.TypeCreated)
	require.NoError(t, p.Publish(ctx, created, valid()))
	bad := valid()
	bad.Type = "nope"
	require.ErrorIs(t, p.Publish(ctx, bad), orderevent.ErrInvalid)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: name, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	for _, want := range []orderevent.Event{created, valid()} {
		m, err := r.ReadMessage(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ptr_1", string(m.Key))
		got, err := orderevent.Decode(m.Value)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

func TestPublishFailsWhenKafkaIsUnreachable(t *testing.T) {
	t.Parallel()
	p, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "x", WriteTimeout: time.Second})
	require.NoError(t, err)
	defer p.Close()
	assert.Error(t, p.Publish(context.Background(), valid()))
}
