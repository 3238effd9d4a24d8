package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// count runs a count(*) query.
func (e *env) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// waitAttempted waits until n deliveries have made attempts attempts and their jobs are in
// River state.
func (e *env) waitAttempted(t testing.TB, n, attempts int, state string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return e.count(t, `SELECT count(*) FROM webhook_deliveries d JOIN river_job j ON j.args->>'delivery_id' = d.id
WHERE d.attempts = $1 AND j.state = $2`, attempts, state) == n
	}, 15*time.Second, 20*time.Millisecond, "%d deliveries after %d attempts in %s", n, attempts, state)
}

func (e *env) orderEvents(from, to int) [][]byte {
	var out [][]byte
	for i := from; i <= to; i++ {
		out = append(out, e.orderEvent(fmt.Sprintf("evt_%03d", i), webhook.EventOrderCompleted))
	}
	return out
}

// The dispatcher and the River client die mid-retry, with answers in flight; a new
// process on the same database and consumer group delivers every event, and a receiver
// that dedupes by webhook-id processes each exactly once.
func TestCrashMidRetryDeliversEveryEventOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, options{timeout: 5 * time.Second})
	k := testenv.NewKafka(t)
	topic := k.Topic(t, "order-events", 2)
	const first, total, lost = 30, 40, 3
	rc := newReceiver(t, e.clock)
	// Every third event fails twice, the others once. The first few of the others to come
	// again are processed but never answered: the receiver has them, the worker does not
	// know it.
	rc.respond = func(_, call int, w http.ResponseWriter, r *http.Request) bool {
		var n int
		_, _ = fmt.Sscanf(r.Header.Get("webhook-id"), "evt_%d", &n)
		failures := 1
		if n%3 == 0 {
			failures = 2
		}
		if call > failures {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	var held atomic.Int32
	rc.answer = func(call int, _ http.ResponseWriter, r *http.Request) bool {
		if call != 2 || held.Add(1) > lost {
			return false
		}
		rc.hang(r)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL, webhook.EventOrderCompleted)
	rc.setSecrets(ep.Secret)

	group := "wh-crash-" + ep.ID
	stopDispatcher := e.runDispatcher(t, k.Brokers, topic, group)
	produce(t, k.Brokers, topic, e.orderEvents(1, first)...)
	require.Eventually(t, func() bool {
		return e.count(t, `SELECT count(*) FROM webhook_deliveries`) >= first/3
	}, 20*time.Second, 5*time.Millisecond)
	stopDispatcher() // mid-stream: offsets of stored events may not be committed yet
	stored := e.count(t, `SELECT count(*) FROM webhook_deliveries`)
	e.waitAttempted(t, stored, 1, "retryable")

	// The second attempts: every third event waits for a third, a few answers hang, the
	// rest land.
	e.clock.Advance(5 * time.Second)
	require.Equal(t, stored, e.retryNow(t))
	require.Eventually(t, func() bool {
		rc.mu.Lock()
		hanging := rc.hanging
		rc.mu.Unlock()
		return hanging == lost && e.count(t, `SELECT count(*) FROM webhook_deliveries d JOIN river_job j ON j.args->>'delivery_id' = d.id
WHERE (d.status = 'delivered' AND j.state = 'completed') OR (d.attempts = 2 AND j.state = 'retryable')`) == stored-lost
	}, 15*time.Second, 10*time.Millisecond)
	e.crashAndRestart(t)

	produce(t, k.Brokers, topic, e.orderEvents(first+1, total)...)
	e.runDispatcher(t, k.Brokers, topic, group)
	e.clock.Advance(5 * time.Minute)
	e.retryUntil(t, func() bool { return e.deliveries(t, webhook.StatusDelivered) == total })

	assert.Equal(t, total, e.count(t, `SELECT count(*) FROM webhook_deliveries`), "replayed events add no delivery")
	accepted := rc.accepted()
	assert.Len(t, accepted, total, "every webhook-id processed")
	duplicates := 0
	for _, n := range accepted {
		duplicates += n - 1
	}
	assert.Equal(t, lost, duplicates, "only the webhooks whose answer was lost came again")
	assert.Zero(t, e.count(t, `SELECT count(*) FROM (SELECT delivery_id FROM webhook_attempts
WHERE status_code BETWEEN 200 AND 299 GROUP BY delivery_id HAVING count(*) > 1) twice`), "nothing is sent again after a 2xx")
	require.Eventually(t, func() bool {
		return e.count(t, `SELECT count(*) FROM river_job WHERE state <> 'completed'`) == 0
	}, 10*time.Second, 20*time.Millisecond, "every job ends completed")
}

// A receiver that is down for hours, across five retries, gets every delivery once it
// is back, and its endpoint stays enabled.
func TestReceiverDownForHoursGetsEveryDeliveryWhenBack(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	var up atomic.Bool
	rc.respond = func(_, _ int, _ http.ResponseWriter, _ *http.Request) bool {
		if up.Load() {
			return false
		}
		panic(http.ErrAbortHandler) // the connection drops without an answer
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	const events = 10
	for _, raw := range e.orderEvents(1, events) {
		n, err := e.svc.HandleOrderEvent(t.Context(), raw)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}

	at := e.clock.Now()
	waits := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour}
	for i, wait := range waits {
		e.waitAttempted(t, events, i+1, "retryable")
		at = at.Add(wait)
		assert.Equal(t, events, e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE next_attempt_at = $1`, at),
			"every delivery is due %s after attempt %d", wait, i+1)
		e.clock.Advance(wait)
		if i == len(waits)-1 {
			up.Store(true)
		}
		require.Equal(t, events, e.retryNow(t))
	}
	e.waitAttempted(t, events, len(waits)+1, "completed")

	assert.Equal(t, events, e.deliveries(t, webhook.StatusDelivered))
	accepted := rc.accepted()
	require.Len(t, accepted, events)
	for id, n := range accepted {
		assert.Equal(t, 1, n, id)
	}
	calls, _ := rc.count()
	assert.Equal(t, events*(len(waits)+1), calls)
	rows, _ := e.pool.Query(t.Context(), `SELECT id FROM webhook_deliveries`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for _, id := range ids {
		d := e.detail(t, id)
		require.Len(t, d.AttemptLog, len(waits)+1)
		for _, a := range d.AttemptLog[:len(waits)] {
			assert.Nil(t, a.StatusCode)
			assert.NotEmpty(t, a.Error)
		}
		require.NotNil(t, d.AttemptLog[len(waits)].StatusCode)
		assert.Equal(t, http.StatusNoContent, *d.AttemptLog[len(waits)].StatusCode)
		assert.WithinDuration(t, at, d.AttemptLog[len(waits)].At, 0)
	}
	assert.True(t, e.endpoint(t, ep.ID).Enabled)
	assert.Zero(t, e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND failing_since IS NOT NULL`, ep.ID),
		"a success ends the run of failures")
}

// A process that dies after recording a delivery but before River marks its job done has
// the job run again once River rescues it: that run must send nothing.
func TestJobRunAgainAfterTheDeliverySendsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_again", webhook.EventOrderCompleted))
	id := e.deliveryID(t, "evt_again", ep.ID)
	e.waitJob(t, id, "completed")
	before := e.detail(t, id)

	var jobID int64
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT id FROM river_job WHERE args->>'delivery_id' = $1`, id).Scan(&jobID))
	_, err := e.river.JobRetry(t.Context(), jobID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return e.count(t, `SELECT count(*) FROM river_job WHERE id = $1 AND state = 'completed' AND attempt = 2`, jobID) == 1
	}, 10*time.Second, 10*time.Millisecond, "the job ran again")

	calls, _ := rc.count()
	assert.Equal(t, 1, calls)
	assert.Equal(t, before, e.detail(t, id))
}
