package apikey_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/partner/partnertest"
)

type env struct {
	pool    *pgxpool.Pool
	keys    *apikey.Service
	api     humatest.TestAPI
	handler http.Handler
}

// setup builds the key service and its API on a fresh database; opts adjust the service's
// Config (the key limit, the clock).
func setup(t *testing.T, opts ...func(*apikey.Config)) env {
	t.Helper()
	pool := partnertest.DB(t)
	cfg := apikey.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	keys, err := apikey.New(cfg)
	require.NoError(t, err)
	handler, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	apikey.Register(api, apikey.Deps{Keys: keys, RBAC: partnertest.Checker{}})
	return env{pool: pool, keys: keys, api: api, handler: handler}
}

// counts are the rows a key change writes.
type counts struct{ keys, changes, audit int }

func (e env) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM api_keys), (SELECT count(*) FROM edge_changes), (SELECT count(*) FROM audit_log)`).
		Scan(&c.keys, &c.changes, &c.audit))
	return c
}

func decode[T any](t *testing.T, resp *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &v), resp.Body.String())
	return v
}

// problem is the part of an RFC 9457 problem the tests check.
type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

// createdKey mirrors apikey.CreatedKey as JSON.
type createdKey struct {
	apikey.Key
	Secret string `json:"secret"`
}

func validBody() map[string]any {
	return map[string]any{"name": "Checkout", "environment": "test", "roles": []string{"orders:write", "catalog:read"}}
}
