package webhook_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
)

// failThrough follows a delivery through failed attempts: after each it checks that the
// next attempt is due wait later (in the delivery log and in River), moves the clock there
// and runs it. It returns the times of the attempts, the first one included.
func (e *env) failThrough(t *testing.T, deliveryID string, waits ...time.Duration) []time.Time {
	t.Helper()
	at := []time.Time{e.clock.Now()}
	for i, wait := range waits {
		j := e.waitJob(t, deliveryID, "retryable")
		d := e.detail(t, deliveryID)
		require.Equal(t, webhook.StatusPending, d.Status)
		require.Equal(t, i+1, d.Attempts)
		next := at[i].Add(wait)
		require.NotNil(t, d.NextAttemptAt)
		require.WithinDuration(t, next, *d.NextAttemptAt, 0, "after attempt %d: next_attempt_at", i+1)
		require.WithinDuration(t, next, j.ScheduledAt, 0, "after attempt %d: River's scheduled_at", i+1)
		e.clock.Advance(wait)
		require.Equal(t, 1, e.retryNow(t))
		at = append(at, next)
	}
	return at
}

// endpoint reads an endpoint through the API.
func (e *env) endpoint(t *testing.T, id string) webhook.Endpoint {
	t.Helper()
	resp := e.api.Get("/v1/webhooks/endpoints/"+id, e.as)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	return decode[webhook.Endpoint](t, resp)
}

func TestFailingReceiverIsRetriedOnTheSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	const failures = 4
	complaint := strings.Repeat("upstream exploded; ", 200)
	rc.respond = func(n, _ int, w http.ResponseWriter, _ *http.Request) bool {
		if n > failures {
			return false
		}
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, complaint)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_retry", webhook.EventOrderCompleted))
	id := e.deliveryID(t, "evt_retry", ep.ID)

	at := e.failThrough(t, id, 5*time.Second, 5*time.Minute, 30*time.Minute, 2*time.Hour)

	e.waitJob(t, id, "completed")
	d := e.detail(t, id)
	assert.Equal(t, webhook.StatusDelivered, d.Status)
	assert.Equal(t, failures+1, d.Attempts)
	assert.Nil(t, d.NextAttemptAt)
	require.NotNil(t, d.DeliveredAt)
	assert.WithinDuration(t, at[failures], *d.DeliveredAt, 0)
	require.Len(t, d.AttemptLog, failures+1)
	for i, a := range d.AttemptLog {
		assert.Equal(t, i+1, a.Attempt)
		assert.WithinDuration(t, at[i], a.At, 0, "attempt %d", a.Attempt)
		require.NotNil(t, a.StatusCode, "attempt %d", a.Attempt)
		if i < failures {
			assert.Equal(t, http.StatusInternalServerError, *a.StatusCode)
			assert.Equal(t, "HTTP 500", a.Error)
			assert.GreaterOrEqual(t, a.LatencyMS, 20, "the receiver took 20 ms")
			assert.Equal(t, complaint[:webhook.ExcerptLimit], a.ResponseExcerpt)
		} else {
			assert.Equal(t, http.StatusNoContent, *a.StatusCode)
			assert.Empty(t, a.Error)
		}
	}
	// Every attempt was signed at its own time, or the last one would be stale by hours.
	assert.Equal(t, map[string]int{"evt_retry": 1}, rc.accepted())
}

func TestFinalAttemptMarksTheDeliveryFailed(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	rc.respond = func(_, _ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_final", webhook.EventOrderFailed))
	id := e.deliveryID(t, "evt_final", ep.ID)

	at := e.failThrough(t, id, 5*time.Second, 5*time.Minute, 30*time.Minute, 2*time.Hour, 5*time.Hour, 10*time.Hour, 10*time.Hour)

	e.waitJob(t, id, "discarded")
	d := e.detail(t, id)
	assert.Equal(t, webhook.StatusFailed, d.Status)
	assert.Equal(t, webhook.MaxAttempts, d.Attempts)
	assert.Equal(t, 8, d.Attempts)
	assert.Nil(t, d.NextAttemptAt)
	require.Len(t, d.AttemptLog, 8)
	assert.WithinDuration(t, at[7], d.AttemptLog[7].At, 0)
	assert.Zero(t, e.retryNow(t), "nothing is left to retry")
	calls, _ := rc.count()
	assert.Equal(t, 8, calls)
	// 27.6 hours of failing is well short of the five days that disable an endpoint.
	assert.True(t, e.endpoint(t, ep.ID).Enabled)
	assert.Empty(t, e.notifications(t, ep.ID))
}

func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	rc.respond = func(_, _ int, w http.ResponseWriter, r *http.Request) bool {
		switch r.Header.Get("webhook-id") {
		case "evt_before":
			w.WriteHeader(http.StatusInternalServerError)
		case "evt_gone":
			w.WriteHeader(http.StatusGone)
		default:
			return false
		}
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_before", webhook.EventOrderCompleted))
	before := e.deliveryID(t, "evt_before", ep.ID)
	e.waitJob(t, before, "retryable")

	require.Equal(t, 1, e.send(t, "evt_gone", webhook.EventOrderCompleted))
	gone := e.deliveryID(t, "evt_gone", ep.ID)
	e.waitJob(t, gone, "cancelled")
	d := e.detail(t, gone)
	assert.Equal(t, webhook.StatusFailed, d.Status)
	require.NotNil(t, d.LastStatusCode)
	assert.Equal(t, http.StatusGone, *d.LastStatusCode)
	assert.Nil(t, d.NextAttemptAt)
	got := e.endpoint(t, ep.ID)
	assert.False(t, got.Enabled)
	assert.Contains(t, got.DisabledReason, "410")
	assert.Equal(t, []string{"endpoint.disabled"}, e.notifications(t, ep.ID))
	// The partner reads it through the API; another partner does not see it.
	resp := e.api.Get("/v1/webhooks/notifications", e.as)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	list := decode[webhook.NotificationList](t, resp)
	require.Len(t, list.Notifications, 1)
	assert.Equal(t, webhook.NotificationEndpointDisabled, list.Notifications[0].Kind)
	assert.Equal(t, ep.ID, list.Notifications[0].EndpointID)
	assert.Contains(t, string(list.Notifications[0].Details), "410")
	other := partnertest.Seed(t, e.pool, "Bystander", false)
	resp = e.api.Get("/v1/webhooks/notifications", partnertest.Header(other.Owner))
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Empty(t, decode[webhook.NotificationList](t, resp).Notifications)
	var audits int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE target = $1 AND action = 'webhook_endpoint.disabled'`, ep.ID).Scan(&audits))
	assert.Equal(t, 1, audits)

	// The delivery still waiting finds the endpoint disabled and sends nothing.
	calls, _ := rc.count()
	e.clock.Advance(5 * time.Second)
	require.Equal(t, 1, e.retryNow(t))
	e.waitJob(t, before, "cancelled")
	d = e.detail(t, before)
	assert.Equal(t, webhook.StatusFailed, d.Status)
	assert.Equal(t, 1, d.Attempts)
	assert.Contains(t, d.LastError, "disabled")
	after, _ := rc.count()
	assert.Equal(t, calls, after)
	assert.Zero(t, e.send(t, "evt_after", webhook.EventOrderCompleted), "a disabled endpoint gets no new deliveries")
}

func TestTooManyRequestsWaitsForRetryAfter(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	start := e.clock.Now()
	cases := []struct {
		event, retryAfter string
		wait              time.Duration
		snoozed           bool
	}{
		{"evt_seconds", "120", 2 * time.Minute, true},
		{"evt_date", start.Add(time.Hour).UTC().Format(http.TimeFormat), time.Hour, true},
		{"evt_capped", "604800", 10 * time.Hour, true},
		{"evt_absent", "", 5 * time.Second, false}, // the ordinary schedule
	}
	rc.respond = func(_, call int, w http.ResponseWriter, r *http.Request) bool {
		if call > 1 {
			return false
		}
		for _, c := range cases {
			if c.event == r.Header.Get("webhook-id") && c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
		}
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	for _, c := range cases {
		t.Run(c.event, func(t *testing.T) {
			sent := time.Now()
			require.Equal(t, 1, e.send(t, c.event, webhook.EventOrderCompleted))
			id := e.deliveryID(t, c.event, ep.ID)
			if !c.snoozed {
				j := e.waitJob(t, id, "retryable")
				assert.WithinDuration(t, start.Add(c.wait), j.ScheduledAt, 0)
			} else {
				// River snoozes on its own clock: the wall clock plus Retry-After.
				j := e.waitJob(t, id, "scheduled")
				assert.WithinDuration(t, sent.Add(c.wait), j.ScheduledAt, 5*time.Second)
			}
			d := e.detail(t, id)
			assert.Equal(t, webhook.StatusPending, d.Status)
			require.NotNil(t, d.NextAttemptAt)
			assert.WithinDuration(t, start.Add(c.wait), *d.NextAttemptAt, 0)
			require.Len(t, d.AttemptLog, 1)
			require.NotNil(t, d.AttemptLog[0].StatusCode)
			assert.Equal(t, http.StatusTooManyRequests, *d.AttemptLog[0].StatusCode)
		})
	}
	e.clock.Advance(10 * time.Hour)
	e.retryUntil(t, func() bool { return e.deliveries(t, webhook.StatusDelivered) == len(cases) })
	assert.Len(t, rc.accepted(), len(cases))
}

// An endpoint that has not answered a single attempt with 2xx for five days is disabled;
// one that succeeded in between is not.
func TestEndpointFailingForFiveDaysIsDisabled(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	down := func(_, _ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	failing, flaky := newReceiver(t, e.clock), newReceiver(t, e.clock)
	var flakyUp atomic.Bool
	failing.respond = down
	flaky.respond = func(n, call int, w http.ResponseWriter, r *http.Request) bool {
		return !flakyUp.Load() && down(n, call, w, r)
	}
	a, b := e.createEndpoint(t, failing.srv.URL), e.createEndpoint(t, flaky.srv.URL)
	failing.setSecrets(a.Secret)
	flaky.setSecrets(b.Secret)
	const day = 24 * time.Hour

	require.Equal(t, 2, e.send(t, "evt_day0", webhook.EventOrderCompleted))
	a0, b0 := e.deliveryID(t, "evt_day0", a.ID), e.deliveryID(t, "evt_day0", b.ID)
	e.waitJob(t, a0, "retryable")
	e.waitJob(t, b0, "retryable")

	e.clock.Advance(3 * day) // b answers once: its run of failures ends
	flakyUp.Store(true)
	require.Equal(t, 2, e.retryNow(t))
	e.waitJob(t, b0, "completed")
	e.waitJob(t, a0, "retryable")
	flakyUp.Store(false)

	e.clock.Advance(day)
	require.Equal(t, 2, e.send(t, "evt_day4", webhook.EventOrderCompleted))
	a4, b4 := e.deliveryID(t, "evt_day4", a.ID), e.deliveryID(t, "evt_day4", b.ID)
	e.waitJob(t, a4, "retryable")
	e.waitJob(t, b4, "retryable")
	assert.True(t, e.endpoint(t, a.ID).Enabled, "four days of failures are not enough")

	e.clock.Advance(day) // a has failed for five days, b for one
	require.Equal(t, 3, e.retryNow(t))
	e.waitJob(t, a0, "cancelled")
	e.waitJob(t, a4, "cancelled")
	e.waitJob(t, b4, "retryable")

	got := e.endpoint(t, a.ID)
	assert.False(t, got.Enabled)
	assert.Contains(t, got.DisabledReason, "failing")
	assert.Equal(t, []string{"endpoint.disabled"}, e.notifications(t, a.ID))
	assert.Equal(t, webhook.StatusFailed, e.detail(t, a0).Status)
	assert.Equal(t, webhook.StatusFailed, e.detail(t, a4).Status)

	assert.True(t, e.endpoint(t, b.ID).Enabled)
	assert.Empty(t, e.notifications(t, b.ID))
	assert.Equal(t, webhook.StatusDelivered, e.detail(t, b0).Status)
	assert.Equal(t, webhook.StatusPending, e.detail(t, b4).Status)
}

func TestSlowReceiverTimesOutAndIsRetried(t *testing.T) {
	t.Parallel()
	e := setup(t, options{timeout: 300 * time.Millisecond})
	rc := newReceiver(t, e.clock)
	rc.respond = func(n, _ int, _ http.ResponseWriter, r *http.Request) bool {
		if n > 1 {
			return false
		}
		rc.hang(r) // answers only after the worker has given up
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_slow", webhook.EventOrderCompleted))
	id := e.deliveryID(t, "evt_slow", ep.ID)

	e.failThrough(t, id, 5*time.Second)
	e.waitJob(t, id, "completed")
	d := e.detail(t, id)
	assert.Equal(t, webhook.StatusDelivered, d.Status)
	require.Len(t, d.AttemptLog, 2)
	timedOut := d.AttemptLog[0]
	assert.Nil(t, timedOut.StatusCode)
	assert.Regexp(t, `deadline exceeded|Timeout exceeded`, timedOut.Error)
	assert.GreaterOrEqual(t, timedOut.LatencyMS, 300)
	assert.Less(t, timedOut.LatencyMS, 3000)
	assert.Equal(t, map[string]int{"evt_slow": 1}, rc.accepted())
}

func TestHugeResponseIsCutToTheExcerptLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	rc := newReceiver(t, e.clock)
	const huge = 50 << 20
	// Three-byte runes, so the limit falls inside one; pauses make the whole body take
	// at least 400 ms to stream.
	chunk := []byte(strings.Repeat("€", (256<<10)/3))
	var written atomic.Int64
	finished := make(chan struct{})
	rc.answer = func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		defer close(finished)
		w.WriteHeader(http.StatusOK)
		for written.Load() < huge {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				break
			}
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
		}
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_huge", webhook.EventOrderCompleted))
	id := e.deliveryID(t, "evt_huge", ep.ID)

	e.waitJob(t, id, "completed")
	d := e.detail(t, id)
	assert.Equal(t, webhook.StatusDelivered, d.Status)
	require.Len(t, d.AttemptLog, 1)
	a := d.AttemptLog[0]
	assert.LessOrEqual(t, len(a.ResponseExcerpt), webhook.ExcerptLimit)
	assert.GreaterOrEqual(t, len(a.ResponseExcerpt), webhook.ExcerptLimit-3)
	assert.True(t, utf8.ValidString(a.ResponseExcerpt))
	assert.True(t, strings.HasPrefix(string(chunk), a.ResponseExcerpt), "the excerpt is the start of the body")
	assert.Less(t, a.LatencyMS, 200, "the worker stops reading long before the body ends")
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver is still streaming: the worker kept the connection open")
	}
	assert.Less(t, written.Load(), int64(huge/2), "the worker hung up instead of reading 50 MiB")
}
