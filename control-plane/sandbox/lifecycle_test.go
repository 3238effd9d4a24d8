package sandbox_test

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/control-plane/sandbox"
)

func TestOrdersFinishAfterTheirDelay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		amount  int64
		wait    time.Duration
		status  string
		reason  string
		refund  bool
		eventTy string
	}{
		{"completed", 2500, delay, sandbox.StatusCompleted, "", false, orderevent.TypeCompleted},
		{"out of stock", sandbox.AmountOutOfStock, delay, sandbox.StatusFailed, "vendor_out_of_stock", true, orderevent.TypeFailed},
		{"vendor timeout", sandbox.AmountTimeout, timeoutDelay, sandbox.StatusFailed, "vendor_timeout", true, orderevent.TypeFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			partner := e.partner(t, startBalance)
			r := e.order(t, partner, "k", card(tc.amount))
			require.Equal(t, http.StatusCreated, r.status, string(r.body))
			o := r.order(t)
			require.Equal(t, int64(startBalance)-tc.amount, e.balance(t, partner))
			e.run(t, e.vendor)

			// Just before the delay it is still pending.
			e.clock.Advance(tc.wait - time.Millisecond)
			time.Sleep(100 * time.Millisecond) // several polls of the worker
			assert.Equal(t, sandbox.StatusPending, e.get(t, partner, o.ID).order(t).Status)

			e.clock.Advance(time.Millisecond)
			done := e.waitStatus(t, partner, o.ID, tc.status)
			require.NotNil(t, done.FinishedAt)
			assert.Equal(t, e.clock.Now(), *done.FinishedAt)
			if tc.reason == "" {
				assert.Nil(t, done.FailureReason)
				require.NotNil(t, done.Card)
				assert.Equal(t, sandbox.CardFor(o.ID), *done.Card)
			} else {
				require.NotNil(t, done.FailureReason)
				assert.Equal(t, tc.reason, *done.FailureReason)
				assert.Nil(t, done.Card)
			}
			want := int64(startBalance) - tc.amount
			if tc.refund {
				want = startBalance
			}
			assert.Equal(t, want, e.balance(t, partner))

			// Both events reach the publisher, in order, with stable ids and the request id.
			var events []orderevent.Event
			require.Eventually(t, func() bool { events = e.pub.Events(); return len(events) == 2 }, 5*time.Second, 10*time.Millisecond)
			assert.Equal(t, []string{orderevent.TypeCreated, tc.eventTy}, []string{events[0].Type, events[1].Type})
			for _, ev := range events {
				require.NoError(t, ev.Validate())
				assert.Equal(t, orderevent.ID(o.ID, ev.Type), ev.EventID)
				assert.Equal(t, o.RequestID, ev.RequestID)
				assert.Equal(t, partner, ev.PartnerID)
				assert.Equal(t, "ws_"+partner, ev.WorkspaceID)
				assert.Equal(t, "test", ev.Environment)
				assert.Equal(t, tc.amount, ev.AmountCents)
				assert.Equal(t, o.CreatedAt.UnixMilli(), ev.OrderCreatedAtMs)
			}
			assert.Equal(t, o.CreatedAt.UnixMilli(), events[0].OccurredAtMs)
			assert.Equal(t, done.FinishedAt.UnixMilli(), events[1].OccurredAtMs)
			assert.Equal(t, tc.reason, events[1].FailureReason)
			// The outbox marks its rows sent after the publisher has them.
			require.Eventually(t, func() bool { return e.count(t, "unsent", partner) == 0 }, 5*time.Second, 10*time.Millisecond,
				"the outbox marks every published event sent")
		})
	}
}

func TestCardCodesAreDeterministic(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^SBX-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)
	seen := map[string]bool{}
	for i := range 200 {
		id := fmt.Sprintf("ord_%d", i)
		c := sandbox.CardFor(id)
		assert.Regexp(t, format, c.Code)
		assert.Regexp(t, `^[0-9]{4}$`, c.PIN)
		assert.Equal(t, c, sandbox.CardFor(id), "same order, same card")
		assert.False(t, seen[c.Code], "two orders share %s", c.Code)
		seen[c.Code] = true
	}
	// Pinned (computed independently with Python's hmac), so a change of the derivation,
	// which partners' tests may rely on, is noticed.
	assert.Equal(t, sandbox.Card{Code: "SBX-BCB4-4JTR-R7BV", PIN: "0673"}, sandbox.CardFor("ord_example"))
}

func TestWorkerRestartFinishesOrdersThatBecameDueWhileItWasDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	stop := e.run(t, e.vendor)
	before := e.order(t, partner, "before", card(100)).order(t)
	stop()

	// While no worker runs, orders are taken and fall due.
	var ids []string
	for i := range 5 {
		r := e.order(t, partner, fmt.Sprint("down-", i), card(int64(200+i)))
		require.Equal(t, http.StatusCreated, r.status)
		ids = append(ids, r.order(t).ID)
	}
	failing := e.order(t, partner, "down-fail", card(sandbox.AmountOutOfStock)).order(t)
	e.clock.Advance(delay)
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, sandbox.StatusPending, e.get(t, partner, before.ID).order(t).Status, "nothing runs while the worker is down")

	// A new vendor on the same database (a restarted process) finishes them all.
	restarted, err := sandbox.New(sandbox.Config{Pool: e.pool, Publisher: e.pub, Clock: e.clock.Now, Verifier: newVerifier(t, e.clock.Now, edgeSecret), PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	e.run(t, restarted)
	for _, id := range append(ids, before.ID) {
		e.waitStatus(t, partner, id, sandbox.StatusCompleted)
	}
	e.waitStatus(t, partner, failing.ID, sandbox.StatusFailed)
	assert.Equal(t, int64(startBalance-100-200-201-202-203-204), e.balance(t, partner))
	// Publishing is at least once: a restart may publish an event again, with its id.
	require.Eventually(t, func() bool {
		ids := map[string]bool{}
		for _, ev := range e.pub.Events() {
			ids[ev.EventID] = true
		}
		return len(ids) == 14
	}, 15*time.Second, 10*time.Millisecond, "every order's two events are published")
}

func TestConcurrentWorkersFinishEachOrderOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	const n = 40
	for i := range n {
		r := e.order(t, partner, fmt.Sprint("o-", i), card(sandbox.AmountOutOfStock))
		require.Equal(t, http.StatusCreated, r.status)
	}
	require.Equal(t, int64(startBalance-n*sandbox.AmountOutOfStock), e.balance(t, partner))
	e.clock.Advance(delay)

	for range 3 {
		v, err := sandbox.New(sandbox.Config{Pool: e.pool, Publisher: e.pub, Clock: e.clock.Now, Verifier: newVerifier(t, e.clock.Now, edgeSecret), PollInterval: 5 * time.Millisecond, BatchSize: 3})
		require.NoError(t, err)
		e.run(t, v)
	}
	require.Eventually(t, func() bool { return len(e.pub.Events()) == 2*n }, 10*time.Second, 10*time.Millisecond)
	// Each failure refunded exactly once.
	assert.Equal(t, int64(startBalance), e.balance(t, partner))
	seen := map[string]int{}
	for _, ev := range e.pub.Events() {
		seen[ev.EventID]++
	}
	assert.Len(t, seen, 2*n)
	for id, c := range seen {
		assert.Equal(t, 1, c, id)
	}
}

func TestPublishFailuresKeepEventsInTheOutbox(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	e.pub.failing = true
	e.run(t, e.vendor)
	o := e.order(t, partner, "k", card(500)).order(t)
	e.clock.Advance(delay)
	e.waitStatus(t, partner, o.ID, sandbox.StatusCompleted)
	time.Sleep(100 * time.Millisecond) // several failed rounds
	assert.Equal(t, 2, e.count(t, "unsent", partner))
	assert.Empty(t, e.pub.Events())

	e.pub.mu.Lock()
	e.pub.failing = false
	e.pub.mu.Unlock()
	require.Eventually(t, func() bool { return e.count(t, "unsent", partner) == 0 }, 5*time.Second, 10*time.Millisecond)
	events := e.pub.Events()
	require.Len(t, events, 2)
	assert.Equal(t, orderevent.TypeCreated, events[0].Type)
	assert.Equal(t, orderevent.TypeCompleted, events[1].Type)
}

func TestNewReportsEveryMissingDependency(t *testing.T) {
	t.Parallel()
	_, err := sandbox.New(sandbox.Config{PollInterval: -1})
	require.Error(t, err)
	for _, want := range []string{"Pool is required", "Publisher is required", "Verifier is required", "PollInterval must not be negative"} {
		assert.ErrorContains(t, err, want)
	}
}
