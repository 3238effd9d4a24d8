package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// BenchmarkDeliveryThroughput measures deliveries per second through the real River worker
// and PostgreSQL to a local receiver that verifies every signature, from the moment the
// worker starts on a backlog until the last delivery is recorded. In the same run it
// sends as many plain signed POSTs of the same body to the same receiver, with River's
// concurrency, and reports the ratio: what the queue, the bookkeeping and the guard cost.
func BenchmarkDeliveryThroughput(b *testing.B) {
	const endpoints, events = 10, 500
	const deliveries = endpoints * events
	const concurrency = 100 // webhook.ClientConfig's default, which the worker runs with
	e := setup(b, options{idle: true})
	rc := newReceiver(b, e.clock)
	var secrets []string
	for range endpoints {
		secrets = append(secrets, e.createEndpoint(b, rc.srv.URL).Secret)
	}
	rc.setSecrets(secrets...)
	client := webhook.NewHTTPClient(e.guard, nil, webhook.DeliveryTimeout)

	var viaRiver, plain time.Duration
	for i := 0; b.Loop(); i++ {
		if i > 0 {
			e.river, e.svc = e.newQueue(b)
		}
		for j := range events {
			require.Equal(b, endpoints, e.send(b, fmt.Sprintf("evt_%d_%d", i, j), webhook.EventOrderCompleted))
		}
		want := (i + 1) * deliveries
		start := time.Now()
		require.NoError(b, e.river.Start(context.Background()))
		for e.deliveries(b, webhook.StatusDelivered) < want {
			time.Sleep(5 * time.Millisecond)
		}
		viaRiver += time.Since(start)
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(b, e.river.Stop(stop))
		cancel()

		var body []byte
		require.NoError(b, e.pool.QueryRow(context.Background(), `SELECT payload FROM webhook_deliveries LIMIT 1`).Scan(&body))
		plain += postAll(b, client, rc.srv.URL, e.clock.Now, secrets, body, fmt.Sprintf("plain_%d", i), deliveries, concurrency)
	}
	_, bad := rc.count()
	require.Zero(b, bad)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(b.N*deliveries)/viaRiver.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N*deliveries)/plain.Seconds(), "plain-posts/s")
	b.ReportMetric(plain.Seconds()/viaRiver.Seconds(), "river/plain")
}

// postAll sends n signed POSTs of body to url from concurrency goroutines and returns how
// long they took.
func postAll(b *testing.B, client *http.Client, url string, now func() time.Time, secrets []string, body []byte, prefix string, n, concurrency int) time.Duration {
	b.Helper()
	ids := make(chan string, n)
	for i := range n {
		ids <- fmt.Sprintf("%s_%d", prefix, i)
	}
	close(ids)
	var wg sync.WaitGroup
	errs := make(chan error, concurrency)
	start := time.Now()
	for w := range concurrency {
		secret := secrets[w%len(secrets)]
		wg.Go(func() {
			for id := range ids {
				h, err := webhook.Sign(id, now(), body, secret)
				if err != nil {
					errs <- err
					return
				}
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", h.ID)
				req.Header.Set("webhook-timestamp", h.Timestamp)
				req.Header.Set("webhook-signature", h.Signature)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					errs <- fmt.Errorf("plain POST: HTTP %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for err := range errs {
		require.NoError(b, err)
	}
	return took
}

// BenchmarkOrderEventToFirstAttempt measures how long an order event takes to reach the
// receiver as a webhook's first attempt, at a steady 100 events a second: from the call to
// HandleOrderEvent (via=service), or from the Kafka produce through the dispatcher
// (via=kafka), to the request arriving.
func BenchmarkOrderEventToFirstAttempt(b *testing.B) {
	const events, interval = 200, 10 * time.Millisecond
	// via prepares the path into e and returns how an order event takes it.
	run := func(b *testing.B, via func(e *env) func(raw []byte)) {
		e := setup(b, options{})
		handle := via(e)
		rc := newReceiver(b, e.clock)
		rc.setSecrets(e.createEndpoint(b, rc.srv.URL).Secret)
		arrived := func(id string) (time.Time, bool) {
			rc.mu.Lock()
			defer rc.mu.Unlock()
			at, ok := rc.first[id]
			return at, ok
		}
		// One event first, so that consumers have joined and connections are open.
		handle(e.orderEvent("evt_warmup", webhook.EventOrderCompleted))
		require.Eventually(b, func() bool { _, ok := arrived("evt_warmup"); return ok }, 30*time.Second, 5*time.Millisecond)

		var latencies []time.Duration
		for i := 0; b.Loop(); i++ {
			sent := map[string]time.Time{}
			tick := time.NewTicker(interval)
			for j := range events {
				<-tick.C
				id := fmt.Sprintf("evt_%d_%d", i, j)
				raw := e.orderEvent(id, webhook.EventOrderCompleted)
				sent[id] = time.Now()
				handle(raw)
			}
			tick.Stop()
			for id, at := range sent {
				var got time.Time
				require.Eventually(b, func() bool { var ok bool; got, ok = arrived(id); return ok }, 30*time.Second, 5*time.Millisecond)
				latencies = append(latencies, got.Sub(at))
			}
		}
		slices.Sort(latencies)
		pct := func(p float64) float64 {
			return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.95), "p95-ms")
		b.ReportMetric(pct(1), "max-ms")
	}
	b.Run("via=service", func(b *testing.B) {
		run(b, func(e *env) func([]byte) {
			return func(raw []byte) {
				_, err := e.svc.HandleOrderEvent(context.Background(), raw)
				require.NoError(b, err)
			}
		})
	})
	b.Run("via=kafka", func(b *testing.B) {
		k := testenv.NewKafka(b)
		topic := k.Topic(b, "order-events", 2)
		w := &kafka.Writer{Addr: kafka.TCP(k.Brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchSize: 1}
		b.Cleanup(func() { _ = w.Close() })
		run(b, func(e *env) func([]byte) {
			e.runDispatcher(b, k.Brokers, topic, "wh-bench-"+topic)
			return func(raw []byte) {
				// A topic just created may refuse the first write for a moment.
				require.Eventually(b, func() bool { return w.WriteMessages(context.Background(), kafka.Message{Value: raw}) == nil },
					20*time.Second, 100*time.Millisecond)
			}
		})
	})
}
