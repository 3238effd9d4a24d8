package apikey_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/rbac"
)

func TestBadInputIsAClearProblemAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Careful", false)
	as := partnertest.Header(tn.Owner)
	resp := e.api.Post("/v1/keys", as, validBody())
	require.Equal(t, http.StatusCreated, resp.Code)
	existing := decode[createdKey](t, resp).ID

	with := func(field string, v any) map[string]any {
		b := validBody()
		b[field] = v
		return b
	}
	cases := []struct {
		name     string
		method   string
		path     string
		body     any // a string is sent raw
		status   int
		location string
		says     string
	}{
		{"bad IPv4 CIDR", "POST", "/v1/keys", with("allowed_cidrs", []string{"203.0.113.0/24", "10.0.0.0/33"}), 422, "body.allowed_cidrs[1]", `"10.0.0.0/33"`},
		{"bad IPv6 entry", "POST", "/v1/keys", with("allowed_cidrs", []string{"::1", "2001:db8::/32", "2001:db8::zz"}), 422, "body.allowed_cidrs[2]", `"2001:db8::zz"`},
		{"host name", "POST", "/v1/keys", with("allowed_cidrs", []string{"example.com"}), 422, "body.allowed_cidrs[0]", "example.com"},
		{"unknown role", "POST", "/v1/keys", with("roles", []string{"catalog:read", "orders:delete"}), 422, "body.roles[1]", "catalog:read"},
		{"no roles", "POST", "/v1/keys", with("roles", []string{}), 422, "body.roles", ""},
		{"past expiry", "POST", "/v1/keys", with("expires_at", time.Now().Add(-time.Hour).Format(time.RFC3339)), 422, "body.expires_at", "future"},
		{"bad environment", "POST", "/v1/keys", with("environment", "prod"), 422, "body.environment", ""},
		{"empty name", "POST", "/v1/keys", with("name", ""), 422, "body.name", ""},
		{"unknown field", "POST", "/v1/keys", with("owner", "me"), 422, "body.owner", "unexpected property"},
		{"malformed JSON", "POST", "/v1/keys", `{"name": "x", "environment": `, 400, "", ""},
		{"patch bad CIDR", "PATCH", "/v1/keys/" + existing, map[string]any{"allowed_cidrs": []string{"1.2.3.4", "300.1.1.1"}}, 422, "body.allowed_cidrs[1]", "300.1.1.1"},
		{"patch unknown role", "PATCH", "/v1/keys/" + existing, map[string]any{"roles": []string{"admin"}}, 422, "body.roles[0]", ""},
		{"patch unknown field", "PATCH", "/v1/keys/" + existing, map[string]any{"status": "active"}, 422, "body.status", ""},
		{"roll grace too long", "POST", "/v1/keys/" + existing + "/roll", map[string]any{"grace_period": "169h"}, 422, "body.grace_period", "168h"},
		{"roll grace negative", "POST", "/v1/keys/" + existing + "/roll", map[string]any{"grace_period": "-1h"}, 422, "body.grace_period", ""},
		{"roll grace not a duration", "POST", "/v1/keys/" + existing + "/roll", map[string]any{"grace_period": "soon"}, 422, "body.grace_period", "soon"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counts(t)
			var body any = tc.body
			if raw, ok := tc.body.(string); ok {
				body = strings.NewReader(raw)
			}
			resp := e.api.Do(tc.method, tc.path, as, "Content-Type: application/json", body)
			require.Equal(t, tc.status, resp.Code, resp.Body.String())
			assert.Contains(t, resp.Header().Get("Content-Type"), "application/problem+json")
			p := decode[problem](t, resp)
			if tc.location != "" {
				var locations, messages []string
				for _, d := range p.Errors {
					locations = append(locations, d.Location)
					messages = append(messages, d.Message, fmt.Sprintf("%q", fmt.Sprint(d.Value)))
				}
				assert.Contains(t, locations, tc.location)
				assert.Contains(t, strings.Join(messages, " ")+" "+p.Detail, tc.says)
			}
			assert.Equal(t, before, e.counts(t), "nothing half-written")
		})
	}
}

func TestTenantsNeverSeeEachOthersKeys(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := partnertest.Seed(t, e.pool, "Alpha", false)
	b := partnertest.Seed(t, e.pool, "Beta", false)
	resp := e.api.Post("/v1/keys", partnertest.Header(a.Owner), validBody())
	require.Equal(t, http.StatusCreated, resp.Code)
	keyA := decode[createdKey](t, resp).ID

	// A second workspace of partner A is another tenant for keys too.
	otherWS := a.Owner
	otherWS.WorkspaceID = "ws_other"
	_, err := e.pool.Exec(t.Context(), `INSERT INTO workspaces (id, partner_id, name) VALUES ('ws_other', $1, 'Other')`, a.PartnerID)
	require.NoError(t, err)

	for name, intruder := range map[string]auth.Principal{"other partner": b.Owner, "other workspace": otherWS} {
		as := partnertest.Header(intruder)
		before := e.counts(t)
		resp := e.api.Get("/v1/keys", as)
		require.Equal(t, http.StatusOK, resp.Code)
		assert.NotContains(t, resp.Body.String(), keyA, name)
		for _, req := range []struct{ method, path string }{
			{"GET", "/v1/keys/" + keyA}, {"PATCH", "/v1/keys/" + keyA}, {"POST", "/v1/keys/" + keyA + "/roll"}, {"POST", "/v1/keys/" + keyA + "/revoke"},
		} {
			args := []any{as}
			if req.method == "PATCH" {
				args = append(args, map[string]any{"name": "mine now"})
			}
			resp := e.api.Do(req.method, req.path, args...)
			assert.Equal(t, http.StatusNotFound, resp.Code, "%s: %s %s: %s", name, req.method, req.path, resp.Body.String())
		}
		assert.Equal(t, before, e.counts(t), "%s changed nothing", name)
	}
	resp = e.api.Get("/v1/keys/"+keyA, partnertest.Header(a.Developer))
	assert.Equal(t, http.StatusOK, resp.Code, "the owner's team still sees it")
}

func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Matrix", false)
	callers := map[string]auth.Principal{
		"owner": tn.Owner, "developer": tn.Developer, "finance": tn.Finance, "admin": partnertest.Admin(),
	}
	ops := []struct {
		name   string
		action string
		ok     int
		call   func(as string) int
	}{
		{"create", rbac.KeysManage, 201, func(as string) int { return e.api.Post("/v1/keys", as, validBody()).Code }},
		{"list", rbac.KeysRead, 200, func(as string) int { return e.api.Get("/v1/keys", as).Code }},
		{"get", rbac.KeysRead, 200, func(as string) int { return e.api.Get("/v1/keys/"+fresh(t, e, tn), as).Code }},
		{"update", rbac.KeysManage, 200, func(as string) int {
			return e.api.Patch("/v1/keys/"+fresh(t, e, tn), as, map[string]any{"name": "renamed"}).Code
		}},
		{"roll", rbac.KeysManage, 200, func(as string) int {
			return e.api.Post("/v1/keys/"+fresh(t, e, tn)+"/roll", as, map[string]any{"grace_period": "0s"}).Code
		}},
		{"revoke", rbac.KeysManage, 200, func(as string) int { return e.api.Post("/v1/keys/"+fresh(t, e, tn)+"/revoke", as).Code }},
		{"admin create", rbac.AdminKeysManage, 201, func(as string) int {
			return e.api.Post("/v1/admin/partners/"+tn.PartnerID+"/keys", as, validBody()).Code
		}},
	}
	for _, op := range ops {
		for role, p := range callers {
			t.Run(op.name+"/"+role, func(t *testing.T) {
				want := http.StatusForbidden
				if partnertest.Allowed(p, op.action) {
					want = op.ok
				}
				got := op.call(partnertest.Header(p))
				assert.Equal(t, want, got)
			})
		}
		t.Run(op.name+"/anonymous", func(t *testing.T) {
			assert.Equal(t, http.StatusUnauthorized, op.call("X-Nobody: 1"))
		})
	}
}

// fresh creates a key as the owner through the service and returns its id.
func fresh(t *testing.T, e env, tn partnertest.Tenant) string {
	t.Helper()
	resp := e.api.Post("/v1/keys", partnertest.Header(tn.Owner), validBody())
	require.Equal(t, http.StatusCreated, resp.Code)
	return decode[createdKey](t, resp).ID
}

func TestOverRealHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Wire", false)
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	header, _ := strings.CutPrefix(partnertest.Header(tn.Developer), partnertest.PrincipalHeader+": ")

	do := func(method, path string, body any) (*http.Response, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			raw, err := json.Marshal(body)
			require.NoError(t, err)
			r = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, r)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(partnertest.PrincipalHeader, header)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, out
	}

	resp, body := do("POST", "/v1/keys", map[string]any{"name": "HTTP", "environment": "test", "roles": []string{"*"}, "allowed_cidrs": []string{"2001:db8::1"}})
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(body))
	var k createdKey
	require.NoError(t, json.Unmarshal(body, &k))
	assert.True(t, strings.HasPrefix(k.Secret, "sk_test_"))

	resp, body = do("GET", "/v1/keys?limit=1", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), k.ID)

	resp, body = do("POST", fmt.Sprintf("/v1/keys/%s/revoke", k.ID), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Contains(t, string(body), `"status":"revoked"`)

	resp, body = do("POST", "/v1/keys", map[string]any{"name": "bad", "environment": "test", "roles": []string{"*"}, "allowed_cidrs": []string{"1.2.3.4/40"}})
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(body), "body.allowed_cidrs[0]")
}
