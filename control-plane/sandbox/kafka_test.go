package sandbox_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/control-plane/sandbox"
	"github.com/steller/platform/internal/testenv"
)

// consumed is one order event read back from Kafka.
type consumed struct {
	partition int
	key       string
	event     orderevent.Event
}

// consume reads every partition of name from the start until want messages arrived.
func consume(t *testing.T, brokers []string, name string, partitions, want int) []consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var out []consumed
	var wg sync.WaitGroup
	for p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: name, Partition: p, MaxWait: 50 * time.Millisecond})
		wg.Go(func() {
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				ev, err := orderevent.Decode(m.Value)
				assert.NoError(t, err, string(m.Value))
				mu.Lock()
				out = append(out, consumed{partition: m.Partition, key: string(m.Key), event: ev})
				if len(out) >= want {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, out, want, "events on %s", name)
	return out
}

// checkOrdering asserts that each order's events arrived created first, then one terminal
// event, all in its partner's partition, keyed by the partner, with stable ids.
func checkOrdering(t *testing.T, got []consumed) {
	t.Helper()
	byOrder := map[string][]consumed{}
	partitionOf := map[string]int{}
	for _, c := range got {
		assert.Equal(t, c.event.PartnerID, c.key, "key is the partner id")
		if p, ok := partitionOf[c.key]; ok {
			assert.Equal(t, p, c.partition, "one partner, one partition")
		}
		partitionOf[c.key] = c.partition
		assert.Equal(t, orderevent.ID(c.event.OrderID, c.event.Type), c.event.EventID)
		byOrder[c.event.OrderID] = append(byOrder[c.event.OrderID], c)
	}
	for id, evs := range byOrder {
		require.Len(t, evs, 2, id)
		assert.Equal(t, orderevent.TypeCreated, evs[0].event.Type, id)
		assert.Contains(t, []string{orderevent.TypeCompleted, orderevent.TypeFailed}, evs[1].event.Type, id)
	}
}

func TestOrderEventsReachKafkaInOrderPerOrder(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	name := k.Topic(t, "order-events", 3)
	pub, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: k.Brokers, Topic: name, WriteTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pub.Close() })
	e := setup(t, func(c *sandbox.Config) { c.Publisher = pub; c.BatchSize = 4 })
	e.run(t, e.vendor)

	amounts := []int64{1000, sandbox.AmountOutOfStock, sandbox.AmountTimeout, 2500}
	orders := map[string]sandbox.Order{}
	for _, partner := range []string{e.partner(t, startBalance), e.partner(t, startBalance), e.partner(t, startBalance)} {
		for i, a := range amounts {
			o := e.order(t, partner, fmt.Sprint("k", i), card(a))
			require.Equal(t, http.StatusCreated, o.status)
			orders[o.order(t).ID] = o.order(t)
		}
	}
	e.clock.Advance(timeoutDelay)
	got := consume(t, k.Brokers, name, 3, 2*len(orders))
	checkOrdering(t, got)
	for _, c := range got {
		o := orders[c.event.OrderID]
		assert.Equal(t, o.RequestID, c.event.RequestID)
		assert.Equal(t, o.AmountCents, c.event.AmountCents)
		if c.event.Type == orderevent.TypeFailed {
			want := map[int64]string{sandbox.AmountOutOfStock: "vendor_out_of_stock", sandbox.AmountTimeout: "vendor_timeout"}[o.AmountCents]
			assert.Equal(t, want, c.event.FailureReason)
		}
	}
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestEventsWaitInTheOutboxWhileKafkaIsDown(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	name := k.Topic(t, "order-events", 3)
	down, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: []string{closedAddr(t)}, Topic: name, WriteTimeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = down.Close() })
	e := setup(t, func(c *sandbox.Config) { c.Publisher = down })
	stop := e.run(t, e.vendor)

	partner := e.partner(t, startBalance)
	var ids []string
	for i, a := range []int64{700, sandbox.AmountOutOfStock, 900} {
		r := e.order(t, partner, fmt.Sprint("k", i), card(a))
		require.Equal(t, http.StatusCreated, r.status, "taking orders does not wait for Kafka")
		ids = append(ids, r.order(t).ID)
	}
	e.clock.Advance(delay)
	for _, id := range ids {
		require.Eventually(t, func() bool { return e.get(t, partner, id).order(t).Status != sandbox.StatusPending }, 10*time.Second, 10*time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // publish attempts fail meanwhile
	assert.Equal(t, 6, e.count(t, "unsent", partner), "every event is kept")
	stop()

	// The process comes back with Kafka reachable: everything is published, in order.
	up, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: k.Brokers, Topic: name, WriteTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = up.Close() })
	restarted, err := sandbox.New(sandbox.Config{Pool: e.pool, Publisher: up, Clock: e.clock.Now, Verifier: newVerifier(t, e.clock.Now, edgeSecret), PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	e.run(t, restarted)
	checkOrdering(t, consume(t, k.Brokers, name, 3, 6))
	require.Eventually(t, func() bool { return e.count(t, "unsent", partner) == 0 }, 5*time.Second, 10*time.Millisecond)
}
