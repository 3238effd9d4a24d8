package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/control-plane/sandbox"
)

func TestRequestsWithoutTheEdgeIdentityAreRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	paths := []struct{ method, path string }{
		{http.MethodGet, "/v1/catalog"}, {http.MethodPost, "/v1/orders"}, {http.MethodGet, "/v1/orders/ord_x"}, {http.MethodGet, "/v1/balance"},
	}
	cases := []struct {
		name   string
		drop   string
		env    string
		status int
		code   string
	}{
		{"no partner", "X-Steller-Partner-Id", "", http.StatusUnauthorized, "missing_identity"},
		{"no environment", "X-Steller-Environment", "", http.StatusUnauthorized, "missing_identity"},
		{"no workspace", "X-Steller-Workspace-Id", "", http.StatusUnauthorized, "missing_identity"},
		{"live key", "", "live", http.StatusForbidden, "environment_not_sandbox"},
		{"unknown environment", "", "staging", http.StatusForbidden, "environment_not_sandbox"},
	}
	for _, tc := range cases {
		for _, p := range paths {
			h := edgeHeaders(partner)
			h.Set("Idempotency-Key", "k1")
			if tc.drop != "" {
				h.Del(tc.drop)
			}
			if tc.env != "" {
				h.Set("X-Steller-Environment", tc.env)
			}
			r := e.do(t, p.method, p.path, h, card(1000))
			assert.Equal(t, tc.status, r.status, "%s %s %s", tc.name, p.method, p.path)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.Equal(t, tc.code, r.code(t), "%s %s", tc.name, p.path)
		}
	}
	assert.Zero(t, e.count(t, "orders", partner), "a refused request created an order")
	assert.Equal(t, int64(startBalance), e.balance(t, partner))
}

// Anyone who reaches the vendor's port can send X-Steller-* headers: only the edge's
// signature over them makes a request a partner's.
func TestOnlyRequestsTheEdgeSignedAreServed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	victim := e.partner(t, startBalance)
	order := func(h http.Header) reply {
		h.Set("Idempotency-Key", "k-"+h.Get("X-Request-Id"))
		return e.send(t, http.MethodPost, "/v1/orders", h, card(1000))
	}
	sign := func(s *edgesign.Signer, h http.Header, at time.Time) http.Header {
		id := edgesign.FromHeaders(http.MethodPost, "/v1/orders", h)
		h.Set("X-Steller-Signature", s.Sign(&id, at))
		return h
	}

	forged := edgeHeaders(victim) // straight to the vendor, no signature
	tampered := sign(e.signer, edgeHeaders(partner), e.clock.Now())
	tampered.Set("X-Steller-Partner-Id", victim) // signed for partner, claims victim
	otherPath := edgeHeaders(victim)
	id := edgesign.FromHeaders(http.MethodGet, "/v1/balance", otherPath) // a balance read's signature
	otherPath.Set("X-Steller-Signature", e.signer.Sign(&id, e.clock.Now()))
	for name, c := range map[string]struct {
		h    http.Header
		code string
	}{
		"forged headers, unsigned":       {forged, edgesign.CodeMissing},
		"identity changed after signing": {tampered, edgesign.CodeInvalid},
		"signature of another request":   {otherPath, edgesign.CodeInvalid},
		"another secret":                 {sign(newSigner(t, "esig_an-attackers-own-secret-000000000000000"), edgeHeaders(victim), e.clock.Now()), edgesign.CodeInvalid},
		"replayed after the window":      {sign(e.signer, edgeHeaders(victim), e.clock.Now().Add(-edgesign.DefaultWindow-time.Second)), edgesign.CodeStale},
		"garbage":                        {func() http.Header { h := edgeHeaders(victim); h.Set("X-Steller-Signature", "v1=abc"); return h }(), edgesign.CodeInvalid},
	} {
		r := order(c.h)
		assert.Equal(t, http.StatusUnauthorized, r.status, name)
		assert.Equal(t, c.code, r.code(t), name)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), name)
	}
	assert.Zero(t, e.count(t, "orders", victim), "a refused request created an order")
	assert.Zero(t, e.count(t, "orders", partner))

	// The same request, signed as the edge signs it, passes (and within the window).
	r := order(sign(e.signer, edgeHeaders(victim), e.clock.Now().Add(-edgesign.DefaultWindow+time.Second)))
	assert.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, 1, e.count(t, "orders", victim))
}

// A rotation from one secret to the next with both live: a vendor that holds both serves
// edges that sign with either.
func TestSigningSecretsRotateWithBothLive(t *testing.T) {
	t.Parallel()
	const next = "esig_sandbox-tests-next-edge-signing-secret-0"
	e := setup(t, func(c *sandbox.Config) { c.Verifier = newVerifier(t, c.Clock, edgeSecret, next) })
	partner := e.partner(t, startBalance)
	for name, s := range map[string]*edgesign.Signer{
		"an edge not yet rotated": newSigner(t, edgeSecret),
		"a rotated edge":          newSigner(t, next, edgeSecret),
	} {
		h := edgeHeaders(partner)
		id := edgesign.FromHeaders(http.MethodGet, "/v1/balance", h)
		h.Set("X-Steller-Signature", s.Sign(&id, e.clock.Now()))
		r := e.send(t, http.MethodGet, "/v1/balance", h, nil)
		assert.Equal(t, http.StatusOK, r.status, "%s: %s", name, r.body)
	}
}

func TestUnknownPathsAndMethodsAreProblems(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	r := e.do(t, http.MethodGet, "/v1/nothing", edgeHeaders(partner), nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "not_found", r.code(t))
	r = e.do(t, http.MethodDelete, "/v1/balance", edgeHeaders(partner), nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "GET", r.header.Get("Allow"))
}

func TestCatalogListsFixedProductsInUSD(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := e.do(t, http.MethodGet, "/v1/catalog", edgeHeaders(e.partner(t, 0)), nil)
	require.Equal(t, http.StatusOK, r.status)
	var body struct {
		Products []sandbox.Product `json:"products"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	assert.Equal(t, sandbox.Catalog(), body.Products)
	ids := map[string]bool{}
	for _, p := range body.Products {
		assert.Equal(t, "USD", p.Currency, p.ID)
		assert.NotEmpty(t, p.Name)
		assert.False(t, ids[p.ID], "duplicate id %s", p.ID)
		ids[p.ID] = true
		ranged := p.MinAmountCents > 0 && p.MaxAmountCents >= p.MinAmountCents
		assert.True(t, len(p.Denominations) > 0 != ranged, "%s must have denominations or a range, not both", p.ID)
	}
	assert.True(t, ids[sandbox.ProductInsufficient])
}

func TestOrderIsCreatedPendingAndDebitsTheBalance(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	body := map[string]any{"product_id": "sbx_amazing_books", "amount_cents": 2500, "recipient": map[string]string{"email": "ada@example.com", "name": "Ada"}, "metadata": map[string]string{"ref": "A-1"}}
	h := edgeHeaders(partner)
	h.Set("Idempotency-Key", "first")
	r := e.do(t, http.MethodPost, "/v1/orders", h, body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	o := r.order(t)
	assert.True(t, strings.HasPrefix(o.ID, "ord_"))
	assert.Equal(t, sandbox.StatusPending, o.Status)
	assert.Equal(t, "sbx_amazing_books", o.ProductID)
	assert.Equal(t, int64(2500), o.AmountCents)
	assert.Equal(t, "USD", o.Currency)
	assert.Equal(t, &sandbox.Recipient{Email: "ada@example.com", Name: "Ada"}, o.Recipient)
	assert.Equal(t, map[string]string{"ref": "A-1"}, o.Metadata)
	assert.Nil(t, o.Card, "no card before completion")
	assert.Nil(t, o.FailureReason)
	assert.Equal(t, h.Get("X-Request-Id"), o.RequestID)
	assert.Equal(t, h.Get("X-Request-Id"), r.header.Get("X-Request-Id"), "the edge's request id comes back to the client")
	assert.Equal(t, e.clock.Now(), o.CreatedAt)
	assert.Equal(t, int64(startBalance-2500), e.balance(t, partner))

	got := e.get(t, partner, o.ID)
	require.Equal(t, http.StatusOK, got.status)
	assert.Equal(t, o, got.order(t), "GET returns the order as created")
	assert.Equal(t, 1, e.count(t, "outbox", partner), "order.created is in the outbox")
}

func TestPartnersAreIsolated(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a, b := e.partner(t, startBalance), e.partner(t, startBalance)
	oa := e.order(t, a, "same-key", card(1000))
	require.Equal(t, http.StatusCreated, oa.status)
	orderA := oa.order(t)

	r := e.get(t, b, orderA.ID)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "order_not_found", r.code(t))
	assert.NotContains(t, string(r.body), "sbx_open_prepaid")

	// The same idempotency key is another partner's own: a new order, its own debit.
	ob := e.order(t, b, "same-key", card(3000))
	require.Equal(t, http.StatusCreated, ob.status, string(ob.body))
	assert.NotEqual(t, orderA.ID, ob.order(t).ID)
	assert.Equal(t, int64(startBalance-1000), e.balance(t, a))
	assert.Equal(t, int64(startBalance-3000), e.balance(t, b))
	assert.Equal(t, http.StatusOK, e.get(t, a, orderA.ID).status)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	first := e.order(t, partner, "key-1", map[string]any{"product_id": "sbx_open_prepaid", "amount_cents": 1500, "metadata": map[string]string{"a": "1", "b": "2"}})
	require.Equal(t, http.StatusCreated, first.status)
	assert.Empty(t, first.header.Get("Idempotent-Replayed"))

	// Same body (keys in another order) is the same request: the original, not a new order.
	again := e.order(t, partner, "key-1", `{"metadata":{"b":"2","a":"1"},"amount_cents":1500,"product_id":"sbx_open_prepaid"}`)
	require.Equal(t, http.StatusOK, again.status, string(again.body))
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, first.order(t), again.order(t))

	// Same key, another body: refused, nothing written.
	other := e.order(t, partner, "key-1", card(1600))
	assert.Equal(t, http.StatusUnprocessableEntity, other.status)
	assert.Equal(t, "idempotency_key_reused", other.code(t))

	assert.Equal(t, 1, e.count(t, "orders", partner))
	assert.Equal(t, 1, e.count(t, "outbox", partner))
	assert.Equal(t, int64(startBalance-1500), e.balance(t, partner))
}

func TestConcurrentDuplicatesMakeOneOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// The balance covers exactly one order: a duplicate must replay, never be refused.
	partner := e.partner(t, 2000)
	const n = 16
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = e.order(t, partner, "race", card(2000)) })
	}
	wg.Wait()
	created, ids := 0, map[string]bool{}
	for _, r := range replies {
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("unexpected reply %d: %s", r.status, r.body)
		}
		ids[r.order(t).ID] = true
	}
	assert.Equal(t, 1, created)
	assert.Len(t, ids, 1, "every reply names the same order")
	assert.Equal(t, 1, e.count(t, "orders", partner))
	assert.Equal(t, 1, e.count(t, "outbox", partner))
	assert.Zero(t, e.balance(t, partner))
}

func TestInsufficientBalanceWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, 5000)
	cases := []struct {
		name string
		body any
	}{
		{"more than the balance", map[string]any{"product_id": "sbx_amazing_books", "amount_cents": 10000}},
		{"magic product", map[string]any{"product_id": sandbox.ProductInsufficient, "amount_cents": 100}},
	}
	for _, tc := range cases {
		r := e.order(t, partner, "k-"+tc.name, tc.body)
		assert.Equal(t, http.StatusPaymentRequired, r.status, tc.name)
		assert.Equal(t, "insufficient_balance", r.code(t), tc.name)
	}
	assert.Zero(t, e.count(t, "orders", partner))
	assert.Zero(t, e.count(t, "outbox", partner))
	assert.Equal(t, int64(5000), e.balance(t, partner))

	// The exact balance is enough, and then nothing is left.
	r := e.order(t, partner, "exact", map[string]any{"product_id": "sbx_amazing_books", "amount_cents": 5000})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Zero(t, e.balance(t, partner))
	// A partner without a sandbox account has nothing to spend.
	r = e.order(t, "ptr_without_account", "k", card(100))
	assert.Equal(t, http.StatusPaymentRequired, r.status)
}

func TestInvalidOrdersAreRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	long := strings.Repeat("k", 256)
	many := map[string]string{}
	for i := range 21 {
		many[strings.Repeat("m", i+1)] = "v"
	}
	cases := []struct {
		name     string
		key      string
		body     any
		status   int
		location string
	}{
		{"no idempotency key", "", card(1000), http.StatusBadRequest, ""},
		{"idempotency key too long", long, card(1000), http.StatusBadRequest, ""},
		{"unknown product", "k", map[string]any{"product_id": "nope", "amount_cents": 1000}, http.StatusUnprocessableEntity, "body.product_id"},
		{"not a denomination", "k", map[string]any{"product_id": "sbx_coffee_cloud", "amount_cents": 700}, http.StatusUnprocessableEntity, "body.amount_cents"},
		{"below the range", "k", map[string]any{"product_id": "sbx_game_galaxy", "amount_cents": 499}, http.StatusUnprocessableEntity, "body.amount_cents"},
		{"above the range", "k", map[string]any{"product_id": "sbx_game_galaxy", "amount_cents": 20001}, http.StatusUnprocessableEntity, "body.amount_cents"},
		{"zero", "k", card(0), http.StatusUnprocessableEntity, "body.amount_cents"},
		{"negative", "k", card(-5), http.StatusUnprocessableEntity, "body.amount_cents"},
		{"fractional cents", "k", `{"product_id":"sbx_open_prepaid","amount_cents":10.5}`, http.StatusUnprocessableEntity, "body"},
		{"unknown field", "k", `{"product_id":"sbx_open_prepaid","amount_cents":100,"currency":"EUR"}`, http.StatusUnprocessableEntity, "body"},
		{"not JSON", "k", `{"product_id":`, http.StatusUnprocessableEntity, "body"},
		{"two objects", "k", `{"product_id":"sbx_open_prepaid","amount_cents":100}{}`, http.StatusUnprocessableEntity, "body"},
		{"too large", "k", `{"product_id":"` + strings.Repeat("x", 70_000) + `"}`, http.StatusUnprocessableEntity, "body"},
		{"bad email", "k", map[string]any{"product_id": "sbx_open_prepaid", "amount_cents": 100, "recipient": map[string]string{"email": "Ada <ada@example.com>"}}, http.StatusUnprocessableEntity, "body.recipient.email"},
		{"too much metadata", "k", map[string]any{"product_id": "sbx_open_prepaid", "amount_cents": 100, "metadata": many}, http.StatusUnprocessableEntity, "body.metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.order(t, partner, tc.key, tc.body)
			require.Equal(t, tc.status, r.status, string(r.body))
			var p struct {
				Code   string `json:"code"`
				Errors []struct {
					Location string `json:"location"`
				} `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(r.body, &p))
			if tc.location == "" {
				assert.Equal(t, "idempotency_key_invalid", p.Code)
				return
			}
			assert.Equal(t, "validation_failed", p.Code)
			require.NotEmpty(t, p.Errors)
			assert.Equal(t, tc.location, p.Errors[0].Location)
		})
	}
	assert.Zero(t, e.count(t, "orders", partner))
	assert.Equal(t, int64(startBalance), e.balance(t, partner))
}

func TestMagicAmountsAreAcceptedForEveryProduct(t *testing.T) {
	t.Parallel()
	e := setup(t)
	partner := e.partner(t, startBalance)
	for _, amount := range []int64{sandbox.AmountOutOfStock, sandbox.AmountTimeout} {
		r := e.order(t, partner, fmt.Sprint("magic-", amount), map[string]any{"product_id": "sbx_coffee_cloud", "amount_cents": amount})
		assert.Equal(t, http.StatusCreated, r.status, "amount %d: %s", amount, r.body)
	}
}
