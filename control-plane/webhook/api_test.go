package webhook_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
)

func TestEndpointLifecycleShowsTheSecretOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true})
	created := e.createEndpoint(t, "https://hooks.example.com/steller", "order.completed")
	require.True(t, strings.HasPrefix(created.Secret, "whsec_"), created.Secret)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(created.Secret, "whsec_"))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(key), 24)
	assert.True(t, created.Enabled)
	assert.Equal(t, "test", created.Environment)

	get := e.api.Get("/v1/webhooks/endpoints/"+created.ID, e.as)
	require.Equal(t, http.StatusOK, get.Code)
	assert.NotContains(t, get.Body.String(), created.Secret)
	assert.NotContains(t, get.Body.String(), "secret\"")

	patch := e.api.Patch("/v1/webhooks/endpoints/"+created.ID, e.as, map[string]any{
		"description": "orders", "event_types": []string{"order.failed", "order.created"}, "enabled": false})
	require.Equal(t, http.StatusOK, patch.Code, patch.Body.String())
	got := decode[webhook.Endpoint](t, patch)
	assert.Equal(t, "orders", got.Description)
	assert.Equal(t, []string{"order.created", "order.failed"}, got.EventTypes)
	assert.False(t, got.Enabled)

	rot := e.api.Post("/v1/webhooks/endpoints/"+created.ID+"/rotate-secret", e.as, map[string]any{"overlap": "1h"})
	require.Equal(t, http.StatusOK, rot.Code, rot.Body.String())
	rotated := decode[webhook.RotatedSecret](t, rot)
	assert.NotEqual(t, created.Secret, rotated.Secret)
	require.NotNil(t, rotated.Endpoint.RotationEndsAt)

	require.Equal(t, http.StatusNoContent, e.api.Delete("/v1/webhooks/endpoints/"+created.ID, e.as).Code)
	assert.Equal(t, http.StatusNotFound, e.api.Get("/v1/webhooks/endpoints/"+created.ID, e.as).Code)

	var audits int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE target = $1`, created.ID).Scan(&audits))
	assert.Equal(t, 4, audits, "created, updated, rotated, deleted")
}

func TestEndpointsArePrivateToTheirTenantAndRole(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true})
	mine := e.createEndpoint(t, "https://hooks.example.com/a")
	other := partnertest.Seed(t, e.pool, "Other", true)
	as := partnertest.Header(other.Owner)
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/webhooks/endpoints/" + mine.ID},
		{"PATCH", "/v1/webhooks/endpoints/" + mine.ID},
		{"DELETE", "/v1/webhooks/endpoints/" + mine.ID},
		{"POST", "/v1/webhooks/endpoints/" + mine.ID + "/rotate-secret"},
		{"POST", "/v1/webhooks/endpoints/" + mine.ID + "/test"},
	} {
		resp := e.api.Do(c.method, c.path, as, map[string]any{})
		assert.Equal(t, http.StatusNotFound, resp.Code, "%s %s: %s", c.method, c.path, resp.Body.String())
	}
	list := decode[webhook.EndpointList](t, e.api.Get("/v1/webhooks/endpoints", as))
	assert.Empty(t, list.Endpoints)

	assert.Equal(t, http.StatusForbidden, e.api.Get("/v1/webhooks/endpoints", partnertest.Header(e.tenant.Finance)).Code)
	assert.Equal(t, http.StatusOK, e.api.Get("/v1/webhooks/endpoints", partnertest.Header(e.tenant.Developer)).Code)
	assert.Equal(t, http.StatusUnauthorized, e.api.Get("/v1/webhooks/endpoints").Code)
	assert.Equal(t, http.StatusForbidden, e.api.Get("/v1/webhooks/endpoints", partnertest.Header(partnertest.Admin())).Code)
}

func TestEndpointListPaginatesWithACursor(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true})
	want := map[string]bool{}
	for range 5 {
		want[e.createEndpoint(t, "https://hooks.example.com/x").ID] = true
	}
	got := map[string]bool{}
	path := "/v1/webhooks/endpoints?limit=2"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page := decode[webhook.EndpointList](t, e.api.Get(path, e.as))
		for _, ep := range page.Endpoints {
			assert.False(t, got[ep.ID], "repeated %s", ep.ID)
			got[ep.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		path = "/v1/webhooks/endpoints?limit=2&cursor=" + page.NextCursor
	}
	assert.Equal(t, want, got)
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/webhooks/endpoints?cursor=bm9wZQ", e.as).Code)
}

func TestEndpointInputIsValidated(t *testing.T) {
	t.Parallel()
	e := setup(t, options{noWorker: true})
	body := func(url, environment string, extra ...any) map[string]any {
		b := map[string]any{"url": url, "environment": environment, "event_types": []string{"order.completed"}}
		for i := 0; i+1 < len(extra); i += 2 {
			b[extra[i].(string)] = extra[i+1]
		}
		return b
	}
	cases := []struct {
		name   string
		body   map[string]any
		status int
	}{
		{"https live", body("https://hooks.example.com/", "live"), 201},
		{"http test (allowed here)", body("http://hooks.example.com/", "test"), 201},
		{"http live", body("http://hooks.example.com/", "live"), 422},
		{"ftp", body("ftp://hooks.example.com/", "test"), 422},
		{"relative", body("/just/a/path", "test"), 422},
		{"credentials", body("https://user:pw@hooks.example.com/", "live"), 422},
		{"metadata literal", body("https://169.254.169.254/latest", "live"), 422},
		{"IPv6 metadata literal", body("https://[fd00:ec2::254]/", "live"), 422},
		{"unknown event type", body("https://hooks.example.com/", "live", "event_types", []string{"order.refunded"}), 422},
		{"no event types", body("https://hooks.example.com/", "live", "event_types", []string{}), 422},
		{"null event types", body("https://hooks.example.com/", "live", "event_types", nil), 422},
		{"empty fragment", body("https://hooks.example.com/#", "live"), 422},
		{"space in the path", body("https://hooks.example.com/a b", "live"), 422},
		{"null optionals are absent", body("https://hooks.example.com/", "live", "description", nil, "enabled", nil), 201},
		{"unknown field", body("https://hooks.example.com/", "live", "secret", "whsec_mine"), 422},
		{"bad environment", body("https://hooks.example.com/", "prod"), 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.api.Post("/v1/webhooks/endpoints", e.as, c.body)
			assert.Equal(t, c.status, resp.Code, resp.Body.String())
		})
	}
	strict := webhook.URLPolicy{}
	assert.Error(t, strict.Validate("http://hooks.example.com/", "test"), "http for test needs the setting")
	assert.Error(t, strict.Validate("https://127.0.0.1/", "live"), "loopback literal without AllowPrivateNetworks")
	assert.Error(t, strict.Validate("https://localhost/", "live"))
}

// TestHostileBytesAreAClearProblem: bytes PostgreSQL cannot store as text (NUL, invalid
// UTF-8) in a path or query value are a 4xx problem, never a 500 (schemathesis found
// `GET /v1/webhooks/deliveries?endpoint_id=%00%7D%C3%95` answering 500).
func TestHostileBytesAreAClearProblem(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	for _, path := range []string{
		"/v1/webhooks/deliveries?endpoint_id=%00%7D%C3%95",
		"/v1/webhooks/deliveries?endpoint_id=%FF%FE",
		"/v1/webhooks/endpoints/whe_%00",
		"/v1/webhooks/endpoints/%C3%28",
		"/v1/webhooks/deliveries?endpoint_id=" + strings.Repeat("a", 5000),
	} {
		resp := e.api.Get(path, e.as)
		assert.True(t, resp.Code >= 400 && resp.Code < 500, "%s answered %d: %s", path, resp.Code, resp.Body.String())
		assert.Contains(t, resp.Body.String(), `"code":`, path)
	}
}
