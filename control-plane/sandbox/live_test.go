package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/sandbox"
)

// live sets a vendor's Config to the live mode.
func live(c *sandbox.Config) { c.Mode = sandbox.ModeLive }

// livePartner signs up a partner with no sandbox account: the live mode needs none.
func (e *env) livePartner(t *testing.T) string {
	t.Helper()
	id := ident.New("ptr")
	_, err := e.pool.Exec(context.Background(), `INSERT INTO partners (id, company) VALUES ($1, 'Live Co')`, id)
	require.NoError(t, err)
	return id
}

// liveHeaders are the headers the edge sets for a live key of partner.
func liveHeaders(partner string) http.Header {
	h := edgeHeaders(partner)
	h.Set("X-Steller-Environment", "live")
	return h
}

// liveOrder places an order for partner with a live key.
func (e *env) liveOrder(t *testing.T, partner, key string, body any) reply {
	t.Helper()
	h := liveHeaders(partner)
	h.Set("Idempotency-Key", key)
	return e.do(t, http.MethodPost, "/v1/orders", h, body)
}

// waitLive waits until the live order reaches status.
func (e *env) waitLive(t *testing.T, partner, orderID, status string) sandbox.Order {
	t.Helper()
	var o sandbox.Order
	require.Eventually(t, func() bool {
		o = e.do(t, http.MethodGet, "/v1/orders/"+orderID, liveHeaders(partner), nil).order(t)
		return o.Status == status
	}, 10*time.Second, 10*time.Millisecond, "live order %s never became %s", orderID, status)
	return o
}

func TestNewRefusesAnUnknownMode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, err := sandbox.New(sandbox.Config{Mode: "staging", Pool: e.pool, Publisher: e.pub, Verifier: newVerifier(t, e.clock.Now, edgeSecret)})
	require.ErrorContains(t, err, `unknown Mode "staging"`)
}

// The live mode serves live keys only, and only what the edge signed, exactly as the
// sandbox serves test keys only.
func TestLiveModeServesOnlySignedLiveKeys(t *testing.T) {
	t.Parallel()
	e := setup(t, live)
	partner := e.livePartner(t)
	paths := []struct{ method, path string }{
		{http.MethodGet, "/v1/catalog"}, {http.MethodPost, "/v1/orders"}, {http.MethodGet, "/v1/orders/ord_x"}, {http.MethodGet, "/v1/balance"},
	}
	for _, p := range paths {
		for env, code := range map[string]string{"test": "environment_not_live", "staging": "environment_not_live"} {
			h := liveHeaders(partner)
			h.Set("X-Steller-Environment", env)
			h.Set("Idempotency-Key", "k1")
			r := e.do(t, p.method, p.path, h, card(1000))
			assert.Equal(t, http.StatusForbidden, r.status, "%s %s with a %s key", p.method, p.path, env)
			assert.Equal(t, code, r.code(t))
		}
		unsigned := liveHeaders(partner)
		r := e.send(t, p.method, p.path, unsigned, card(1000))
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s %s unsigned", p.method, p.path)
		assert.Equal(t, "edge_signature_missing", r.code(t))
		other := newSigner(t, "esig_another-edge-secret-that-is-long-enough-0")
		signed := liveHeaders(partner)
		signed.Set("Idempotency-Key", "k2")
		id := edgesign.FromHeaders(p.method, p.path, signed)
		signed.Set("X-Steller-Signature", other.Sign(&id, e.clock.Now()))
		r = e.send(t, p.method, p.path, signed, card(1000))
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s %s signed with another secret", p.method, p.path)
		assert.Equal(t, "edge_signature_invalid", r.code(t))
	}
	assert.Zero(t, e.count(t, "live_orders", partner), "a refused request created an order")

	// And the sandbox still refuses live keys.
	s := setup(t)
	sp := s.partner(t, startBalance)
	r := s.do(t, http.MethodGet, "/v1/catalog", liveHeaders(sp), nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "environment_not_sandbox", r.code(t))
}

// The sandbox's magic values are ordinary input live: 13 and 42 are amounts like any
// other (valid where the product's range holds them, refused where its denominations do
// not), and the magic product is not sold.
func TestLiveModeHasNoMagicValues(t *testing.T) {
	t.Parallel()
	e := setup(t, live)
	partner := e.livePartner(t)
	e.run(t, e.vendor)

	var page sandbox.CatalogPage
	r := e.do(t, http.MethodGet, "/v1/catalog", liveHeaders(partner), nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &page))
	assert.Equal(t, sandbox.LiveCatalog(), page.Products)
	assert.False(t, slices.ContainsFunc(page.Products, func(p sandbox.Product) bool { return p.ID == sandbox.ProductInsufficient }),
		"the live catalog sells the magic product")
	assert.Len(t, page.Products, len(sandbox.Catalog())-1)

	// Where the sandbox accepts the magic amounts for every product, live they must be a
	// denomination or in range like any amount.
	for _, amount := range []int64{sandbox.AmountOutOfStock, sandbox.AmountTimeout} {
		r := e.liveOrder(t, partner, fmt.Sprint("coffee-", amount), map[string]any{"product_id": "sbx_coffee_cloud", "amount_cents": amount})
		assert.Equal(t, http.StatusUnprocessableEntity, r.status, "amount %d: %s", amount, r.body)
	}
	r = e.liveOrder(t, partner, "insufficient", map[string]any{"product_id": sandbox.ProductInsufficient, "amount_cents": 1000})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, string(r.body))
	assert.Contains(t, string(r.body), "body.product_id")
	require.Zero(t, e.count(t, "live_orders", partner))

	// In range, 13 and 42 are ordinary orders: both complete after the usual delay (not
	// the sandbox's timeout delay) with a live card, and neither fails.
	var ids []string
	for _, amount := range []int64{sandbox.AmountOutOfStock, sandbox.AmountTimeout, 2500} {
		r := e.liveOrder(t, partner, fmt.Sprint("open-", amount), card(amount))
		require.Equal(t, http.StatusCreated, r.status, "amount %d: %s", amount, r.body)
		ids = append(ids, r.order(t).ID)
	}
	e.clock.Advance(delay)
	for _, id := range ids {
		o := e.waitLive(t, partner, id, sandbox.StatusCompleted)
		assert.Nil(t, o.FailureReason)
		require.NotNil(t, o.Card)
		assert.Equal(t, sandbox.LiveCardFor(id), *o.Card)
		assert.Regexp(t, `^LIV-`, o.Card.Code)
		assert.NotEqual(t, sandbox.CardFor(id), *o.Card, "a live card is not the sandbox's")
	}
	var events []orderevent.Event
	require.Eventually(t, func() bool { events = e.pub.Events(); return len(events) == 6 }, 5*time.Second, 10*time.Millisecond)
	for _, ev := range events {
		require.NoError(t, ev.Validate())
		assert.Equal(t, "live", ev.Environment, ev.EventID)
		assert.NotEqual(t, orderevent.TypeFailed, ev.Type, ev.EventID)
		assert.Empty(t, ev.FailureReason)
	}
}

// A serious vendor's live API does not invent money: the stand-in keeps no balance, so
// GET /v1/balance says there is none to show, and orders are not limited by one.
func TestLiveModeHasNoFakeBalance(t *testing.T) {
	t.Parallel()
	e := setup(t, live)
	partner := e.livePartner(t)
	r := e.do(t, http.MethodGet, "/v1/balance", liveHeaders(partner), nil)
	require.Equal(t, http.StatusNotFound, r.status, string(r.body))
	assert.Equal(t, "balance_not_available", r.code(t))
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))

	// More than the sandbox's starting balance, with no sandbox account at all.
	var total int64
	for i := range 3 {
		r := e.liveOrder(t, partner, fmt.Sprint("big-", i), card(100_000))
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		total += r.order(t).AmountCents
	}
	assert.Greater(t, total, int64(startBalance))
	assert.Equal(t, 3, e.count(t, "live_orders", partner))
	assert.Zero(t, e.count(t, "accounts", partner), "the live mode made a balance")

	// A partner with a sandbox balance keeps it untouched by live orders.
	both := e.partner(t, startBalance)
	require.Equal(t, http.StatusCreated, e.liveOrder(t, both, "k", card(5000)).status)
	var cents int64
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT balance_cents FROM sandbox_accounts WHERE partner_id = $1`, both).Scan(&cents))
	assert.Equal(t, int64(startBalance), cents)
}

// The sandbox and the live stand-in share one database and one topic but nothing else:
// each keeps its orders and outbox in its own tables, neither sees the other's orders,
// each publisher drains its own outbox under its own lock, and events carry the vendor's
// environment.
func TestLiveAndSandboxKeepTheirOrdersApart(t *testing.T) {
	t.Parallel()
	s := setup(t)
	lv := &env{pool: s.pool, clock: s.clock, pub: &recorder{}, signer: s.signer}
	l, err := sandbox.New(sandbox.Config{Mode: sandbox.ModeLive, Pool: s.pool, Publisher: lv.pub, Clock: s.clock.Now,
		Verifier: newVerifier(t, s.clock.Now, edgeSecret), CompletionDelay: delay, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	lv.vendor = l
	lv.srv = httptest.NewServer(l.Handler())
	t.Cleanup(lv.srv.Close)

	partner := s.partner(t, startBalance)
	// The sandbox's publisher lock is held elsewhere: the live publisher must not wait on it.
	conn, err := s.pool.Acquire(context.Background())
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(context.Background(), `SELECT pg_advisory_lock(7318345601)`) // the sandbox's outbox lock (store.go)
	require.NoError(t, err)
	defer func() { _, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7318345601)`) }()

	lv.run(t, lv.vendor)
	s.run(t, s.vendor)
	test := s.order(t, partner, "same-key", card(2500))
	require.Equal(t, http.StatusCreated, test.status, string(test.body))
	liveR := lv.liveOrder(t, partner, "same-key", card(2500))
	require.Equal(t, http.StatusCreated, liveR.status, "the same idempotency key is free live: %s", liveR.body)
	testID, liveID := test.order(t).ID, liveR.order(t).ID
	assert.Equal(t, 1, s.count(t, "orders", partner))
	assert.Equal(t, 1, s.count(t, "live_orders", partner))
	var n int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM live_orders WHERE id = $1`, testID).Scan(&n))
	assert.Zero(t, n, "the sandbox order is in the live table")
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM sandbox_orders WHERE id = $1`, liveID).Scan(&n))
	assert.Zero(t, n, "the live order is in the sandbox table")
	assert.Equal(t, int64(startBalance-2500), s.balance(t, partner), "only the sandbox order is paid from the fake balance")

	// Neither vendor finds the other's order.
	assert.Equal(t, "order_not_found", s.get(t, partner, liveID).code(t))
	assert.Equal(t, "order_not_found", lv.do(t, http.MethodGet, "/v1/orders/"+testID, liveHeaders(partner), nil).code(t))

	// The live events are published while the sandbox's publisher is blocked.
	require.Eventually(t, func() bool { return len(lv.pub.Events()) == 1 }, 5*time.Second, 10*time.Millisecond,
		"the live publisher waited on the sandbox's lock")
	assert.Empty(t, s.pub.Events(), "the sandbox published without its lock")
	s.clock.Advance(delay)
	lv.waitLive(t, partner, liveID, sandbox.StatusCompleted)
	require.Eventually(t, func() bool { return len(lv.pub.Events()) == 2 }, 5*time.Second, 10*time.Millisecond)
	for _, ev := range lv.pub.Events() {
		assert.Equal(t, liveID, ev.OrderID)
		assert.Equal(t, "live", ev.Environment)
		assert.Equal(t, orderevent.ID(liveID, ev.Type), ev.EventID)
	}
	assert.Equal(t, 2, s.count(t, "live_outbox", partner))

	// Released, the sandbox drains its own outbox: test events only.
	_, err = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(7318345601)`)
	require.NoError(t, err)
	s.waitStatus(t, partner, testID, sandbox.StatusCompleted)
	require.Eventually(t, func() bool { return len(s.pub.Events()) == 2 }, 5*time.Second, 10*time.Millisecond)
	for _, ev := range s.pub.Events() {
		assert.Equal(t, testID, ev.OrderID)
		assert.Equal(t, "test", ev.Environment)
	}
}

// Idempotency works live as in the sandbox: a retry replays the order.
func TestLiveOrdersAreIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t, live)
	partner := e.livePartner(t)
	first := e.liveOrder(t, partner, "retry-me", card(700))
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	again := e.liveOrder(t, partner, "retry-me", card(700))
	require.Equal(t, http.StatusOK, again.status, string(again.body))
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, first.order(t).ID, again.order(t).ID)
	other := e.liveOrder(t, partner, "retry-me", card(800))
	assert.Equal(t, http.StatusUnprocessableEntity, other.status)
	assert.Equal(t, "idempotency_key_reused", other.code(t))
	assert.Equal(t, 1, e.count(t, "live_orders", partner))
	assert.Equal(t, 1, e.count(t, "live_outbox", partner))
}
