package console_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/console"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

// keys is a fake key minter that remembers what it made and revoked.
type keys struct {
	mu      sync.Mutex
	created []apikey.Settings
	revoked []string
}

func (k *keys) Create(_ context.Context, p auth.Principal, in apikey.Settings) (apikey.Created, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.created = append(k.created, in)
	return apikey.Created{Key: apikey.Key{ID: "key_console"}, Secret: "sk_test_console_secret"}, nil
}

func (k *keys) Revoke(_ context.Context, _ auth.Principal, id string) (apikey.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.revoked = append(k.revoked, id)
	return apikey.Key{ID: id}, nil
}

// edge answers invalid_key until it has seen unknownFor requests, as an edge does until
// edge sync brings it a new key, then places the order.
type edge struct {
	mu          sync.Mutex
	unknownFor  int
	seen        int
	auth, idems []string
	body        map[string]any
}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen++
	e.auth = append(e.auth, r.Header.Get("Authorization"))
	e.idems = append(e.idems, r.Header.Get("Idempotency-Key"))
	w.Header().Set("X-Request-Id", "req_"+string(rune('0'+e.seen)))
	if e.seen <= e.unknownFor {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"invalid_key","status":401}`)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &e.body)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"id":"ord_1","status":"pending"}`)
}

type env struct {
	api  humatest.TestAPI
	keys *keys
}

func setup(t *testing.T, edgeURL string) env {
	t.Helper()
	k := &keys{}
	c, err := console.New(console.Config{Keys: k, Logger: slog.New(slog.DiscardHandler), KeyWait: 2 * time.Second,
		EdgeURL: func() string { return edgeURL }})
	require.NoError(t, err)
	_, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	console.Register(api, console.Deps{Console: c, RBAC: partnertest.Checker{}})
	return env{api: api, keys: k}
}

var tenant = partnertest.Tenant{PartnerID: "ptr_1", WorkspaceID: "ws_1",
	Owner:     auth.Principal{Kind: auth.KindUser, ID: "usr_o", PartnerID: "ptr_1", WorkspaceID: "ws_1", Role: auth.RoleOwner},
	Developer: auth.Principal{Kind: auth.KindUser, ID: "usr_d", PartnerID: "ptr_1", WorkspaceID: "ws_1", Role: auth.RoleDeveloper},
	Finance:   auth.Principal{Kind: auth.KindUser, ID: "usr_f", PartnerID: "ptr_1", WorkspaceID: "ws_1", Role: auth.RoleFinance}}

func TestTestOrderGoesThroughTheEdgeWithATemporaryKeyThatIsRevoked(t *testing.T) {
	t.Parallel()
	e := &edge{unknownFor: 2}
	srv := httptest.NewServer(e)
	defer srv.Close()
	env := setup(t, srv.URL+"/")

	resp := env.api.Post("/v1/console/test-order", partnertest.Header(tenant.Developer), map[string]any{"amount_cents": 1000})
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	var out struct {
		RequestID string          `json:"request_id"`
		Status    int             `json:"status"`
		Response  json.RawMessage `json:"response"`
		KeyID     string          `json:"key_id"`
	}
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &out))
	assert.Equal(t, http.StatusCreated, out.Status)
	assert.Equal(t, "req_3", out.RequestID, "the answer must carry the request id of the request that placed the order")
	assert.JSONEq(t, `{"id":"ord_1","status":"pending"}`, string(out.Response))
	assert.Equal(t, "key_console", out.KeyID)

	// Retries while the edge did not know the key reuse one idempotency key and the secret.
	require.Len(t, e.idems, 3)
	assert.NotEmpty(t, e.idems[0])
	assert.Equal(t, []string{e.idems[0], e.idems[0], e.idems[0]}, e.idems)
	assert.Equal(t, "Bearer sk_test_console_secret", e.auth[2])
	assert.Equal(t, map[string]any{"product_id": "sbx_amazing_books", "amount_cents": float64(1000)}, e.body)

	// One short-lived test key with the sandbox roles, revoked after use.
	require.Len(t, env.keys.created, 1)
	k := env.keys.created[0]
	assert.Equal(t, console.KeyName, k.Name)
	assert.EqualValues(t, "test", k.Environment)
	assert.Equal(t, apikey.SandboxRoles, k.Roles)
	require.NotNil(t, k.ExpiresAt)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), *k.ExpiresAt, time.Minute)
	assert.Equal(t, []string{"key_console"}, env.keys.revoked)
}

func TestTestOrderRefusals(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	for _, c := range []struct {
		name     string
		edgeURL  string
		as       string
		body     any
		status   int
		minted   bool
		contains string
	}{
		{"finance may not mint keys", "http://127.0.0.1:1", partnertest.Header(tenant.Finance), map[string]any{}, http.StatusForbidden, false, ""},
		{"anonymous", "http://127.0.0.1:1", "", map[string]any{}, http.StatusUnauthorized, false, ""},
		{"console not configured", "", partnertest.Header(tenant.Owner), map[string]any{}, http.StatusServiceUnavailable, false, "console-edge-url"},
		{"edge down", downURL, partnertest.Header(tenant.Owner), map[string]any{}, http.StatusServiceUnavailable, true, "did not answer"},
		{"unknown field", "http://127.0.0.1:1", partnertest.Header(tenant.Owner), map[string]any{"sku": "x"}, http.StatusUnprocessableEntity, false, "sku"},
		{"negative amount", "http://127.0.0.1:1", partnertest.Header(tenant.Owner), map[string]any{"amount_cents": -5}, http.StatusUnprocessableEntity, false, "amount_cents"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := setup(t, c.edgeURL)
			args := []any{c.body}
			if c.as != "" {
				args = append([]any{c.as}, args...)
			}
			resp := env.api.Post("/v1/console/test-order", args...)
			require.Equal(t, c.status, resp.Code, resp.Body.String())
			assert.Contains(t, resp.Body.String(), c.contains)
			if c.edgeURL != "" {
				host := strings.TrimPrefix(c.edgeURL, "http://")
				assert.NotContains(t, resp.Body.String(), host, "the edge's internal address is never shown")
				assert.NotContains(t, resp.Body.String(), "connection refused", "nor a raw network error")
			}
			if c.minted {
				assert.Len(t, env.keys.created, 1)
				assert.Equal(t, []string{"key_console"}, env.keys.revoked, "a minted key must be revoked even when the edge fails")
			} else {
				assert.Empty(t, env.keys.created)
			}
		})
	}
}
