package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kafkatopic "github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// runDispatcher consumes topic until the returned stop is called.
func (e *env) runDispatcher(t testing.TB, brokers []string, topic, group string) (stop func()) {
	t.Helper()
	d, err := webhook.NewDispatcher(webhook.DispatcherConfig{Brokers: brokers, Topic: topic, GroupID: group,
		Service: e.svc, Logger: slog.New(slog.DiscardHandler), SessionTimeout: 6 * time.Second})
	require.NoError(t, err)
	// Run makes the default dead-letter topic; drop it with the test (a second dispatcher
	// on the same topic finds it gone already, which is fine).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = kafkatopic.Delete(ctx, brokers, topic+".dlq")
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		assert.NoError(t, <-done)
	}
	t.Cleanup(stop)
	return stop
}

func produce(t *testing.T, brokers []string, topic string, values ...[]byte) {
	t.Helper()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
		err := w.WriteMessages(ctx, msgs...)
		_ = w.Close()
		// A topic just created may be unknown to the broker, or leaderless, for a moment.
		if (errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.LeaderNotAvailable)) && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		require.NoError(t, err)
		return
	}
}

func TestOrderEventsFromKafkaArriveSignedOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	k := testenv.NewKafka(t)
	topic := k.Topic(t, "order-events", 2)
	rc := newReceiver(t, e.clock)
	ep := e.createEndpoint(t, rc.srv.URL+"/hooks", "order.completed", "order.failed")
	rc.setSecrets(ep.Secret)
	onlyCreated := newReceiver(t, e.clock)
	other := e.createEndpoint(t, onlyCreated.srv.URL, "order.created")
	onlyCreated.setSecrets(other.Secret)

	stop := e.runDispatcher(t, k.Brokers, topic, "wh-"+ep.ID)
	produce(t, k.Brokers, topic,
		e.orderEvent("evt_1", "order.completed"),
		e.orderEvent("evt_1", "order.completed"), // a duplicate from the producer
		e.orderEvent("evt_2", "order.failed"),
		e.orderEvent("evt_3", "order.created"),
		[]byte(`{not json`), // skipped, not fatal
	)
	require.Eventually(t, func() bool {
		return len(rc.accepted()) == 2 && len(onlyCreated.accepted()) == 1
	}, 20*time.Second, 50*time.Millisecond)
	stop()
	assert.Equal(t, map[string]int{"evt_1": 1, "evt_2": 1}, rc.accepted())
	assert.Equal(t, map[string]int{"evt_3": 1}, onlyCreated.accepted())
	_, bad := rc.count()
	assert.Zero(t, bad)

	var body webhook.Payload
	require.NoError(t, json.Unmarshal(rc.bodies["evt_1"], &body))
	assert.Equal(t, "order.completed", body.Type)
	data := body.Data.(map[string]any)
	assert.Equal(t, "ord_evt_1", data["order_id"])

	// The log explorer finds a request's deliveries by its request id, in its tenant only.
	byRequest, err := e.svc.DeliveriesForRequest(t.Context(), e.tenant.Owner, "req_evt_1")
	require.NoError(t, err)
	require.Len(t, byRequest, 1)
	assert.Equal(t, "evt_1", byRequest[0].EventID)
	stranger := e.tenant.Owner
	stranger.WorkspaceID = "ws_someone_else"
	byRequest, err = e.svc.DeliveriesForRequest(t.Context(), stranger, "req_evt_1")
	require.NoError(t, err)
	assert.Empty(t, byRequest)
	assert.EqualValues(t, 2500, data["amount_cents"])
	assert.Equal(t, 3, e.deliveries(t, webhook.StatusDelivered))

	// Replaying the topic from the start (a new consumer group) adds no delivery.
	e.runDispatcher(t, k.Brokers, topic, "wh-replay-"+ep.ID)
	time.Sleep(2 * time.Second)
	var n int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM webhook_deliveries`).Scan(&n))
	assert.Equal(t, 3, n)
}

func TestRotationSignsWithBothSecretsDuringTheOverlap(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	ep := e.createEndpoint(t, rc.srv.URL)
	rot := e.api.Post("/v1/webhooks/endpoints/"+ep.ID+"/rotate-secret", e.as, map[string]any{"overlap": "1m"})
	require.Equal(t, http.StatusOK, rot.Code, rot.Body.String())
	newSecret := decode[webhook.RotatedSecret](t, rot).Secret

	send := func() string {
		resp := e.api.Post("/v1/webhooks/endpoints/"+ep.ID+"/test", e.as)
		require.Equal(t, http.StatusAccepted, resp.Code, resp.Body.String())
		return decode[webhook.Delivery](t, resp).EventID
	}
	for _, c := range []struct {
		name    string
		secrets []string
	}{{"a receiver still on the old secret", []string{ep.Secret}}, {"a receiver already on the new secret", []string{newSecret}}} {
		rc.setSecrets(c.secrets...)
		id := send()
		require.Eventually(t, func() bool { return rc.accepted()[id] == 1 }, 10*time.Second, 20*time.Millisecond, c.name)
	}
	rc.mu.Lock()
	assert.Len(t, splitSigs(rc.sigs[0]), 2, "both signatures during the overlap")
	rc.mu.Unlock()

	// After the overlap only the new secret signs: the old-secret receiver refuses.
	e.clock.Advance(2 * time.Minute)
	rc.setSecrets(ep.Secret)
	rc.mu.Lock()
	rc.refusalsExpected = true
	rc.mu.Unlock()
	id := send()
	require.Eventually(t, func() bool {
		var attempts int
		_ = e.pool.QueryRow(t.Context(), `SELECT attempts FROM webhook_deliveries WHERE event_id = $1`, id).Scan(&attempts)
		return attempts >= 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Zero(t, rc.accepted()[id])
	_, bad := rc.count()
	assert.Equal(t, 1, bad, "refused for its signature")
	rc.setSecrets(newSecret)
	e.retryUntil(t, func() bool { return rc.accepted()[id] == 1 })
	rc.mu.Lock()
	assert.Len(t, splitSigs(rc.sigs[len(rc.sigs)-1]), 1)
	rc.mu.Unlock()
}

func splitSigs(h string) []string { return strings.Fields(h) }
