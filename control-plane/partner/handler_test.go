package partner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/partner"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/rbac"
)

type env struct {
	pool    *pgxpool.Pool
	api     humatest.TestAPI
	handler http.Handler
	admin   string
}

func setup(t *testing.T) env {
	t.Helper()
	pool := partnertest.DB(t)
	svc, err := partner.New(partner.Config{Pool: pool, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	handler, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	partner.Register(api, partner.Deps{Partners: svc, RBAC: partnertest.Checker{}})
	return env{pool: pool, api: api, handler: handler, admin: partnertest.Header(partnertest.Admin())}
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(raw, &v), string(raw))
	return v
}

type listPage struct {
	Partners   []partner.Partner `json:"partners"`
	NextCursor string            `json:"next_cursor"`
}

func (e env) counts(t *testing.T) [3]int {
	t.Helper()
	var c [3]int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM edge_changes), (SELECT count(*) FROM audit_log),
		(SELECT count(*) FROM partners WHERE status = 'suspended' OR live_approved_at IS NOT NULL)`).Scan(&c[0], &c[1], &c[2]))
	return c
}

func TestListSearchesFiltersAndPaginates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	acme := partnertest.Seed(t, e.pool, "Acme Gifts", false)
	bolt := partnertest.Seed(t, e.pool, "Bolt Rewards", false)
	cozy := partnertest.Seed(t, e.pool, "Cozy Cards", false)
	resp := e.api.Post("/v1/admin/partners/"+cozy.PartnerID+"/suspend", e.admin, map[string]any{"reason": "fraud"})
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())

	ids := func(q string) []string {
		t.Helper()
		resp := e.api.Get("/v1/admin/partners"+q, e.admin)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		var out []string
		for _, p := range decode[listPage](t, resp.Body.Bytes()).Partners {
			out = append(out, p.Company)
		}
		return out
	}
	assert.Equal(t, []string{"Cozy Cards", "Bolt Rewards", "Acme Gifts"}, ids(""), "newest first")
	assert.Equal(t, []string{"Acme Gifts"}, ids("?q=acme"), "company, case-insensitive")
	assert.Equal(t, []string{"Bolt Rewards"}, ids("?q=FINANCE."+strings.ToUpper(bolt.PartnerID[4:8])), "a member's e-mail")
	assert.Equal(t, []string{"Cozy Cards"}, ids("?status=suspended"))
	assert.Equal(t, []string{"Bolt Rewards", "Acme Gifts"}, ids("?status=active"))
	assert.Empty(t, ids("?q="+url.QueryEscape("%")), "LIKE wildcards are plain text")

	resp = e.api.Get("/v1/admin/partners/"+acme.PartnerID, e.admin)
	require.Equal(t, http.StatusOK, resp.Code)
	got := decode[partner.Partner](t, resp.Body.Bytes())
	require.NotNil(t, got.OwnerEmail)
	assert.True(t, strings.HasPrefix(*got.OwnerEmail, "owner.") && strings.HasSuffix(*got.OwnerEmail, "@acmegifts.example"), *got.OwnerEmail)
	assert.Equal(t, http.StatusNotFound, e.api.Get("/v1/admin/partners/ptr_missing", e.admin).Code)

	var seen []string
	cursor := ""
	for range 4 {
		resp := e.api.Get("/v1/admin/partners?limit=2&cursor="+cursor, e.admin)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		page := decode[listPage](t, resp.Body.Bytes())
		for _, p := range page.Partners {
			seen = append(seen, p.Company)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	assert.Equal(t, []string{"Cozy Cards", "Bolt Rewards", "Acme Gifts"}, seen)
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/admin/partners?cursor=garbage", e.admin).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/admin/partners?status=deleted", e.admin).Code)
}

func TestSuspendReinstateApproveWriteTheEdgeFeedAndAudit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	tn := partnertest.Seed(t, e.pool, "Lifecycle", false)
	base := "/v1/admin/partners/" + tn.PartnerID

	steps := []struct {
		path       string
		body       any
		status     int
		wantStatus string
		action     string
	}{
		{"/suspend", map[string]any{"reason": "unpaid invoices"}, 200, "suspended", "partner.suspended"},
		{"/suspend", map[string]any{"reason": "again"}, 409, "", ""},
		{"/reinstate", nil, 200, "active", "partner.reinstated"},
		{"/reinstate", map[string]any{"reason": "twice"}, 409, "", ""},
		{"/approve-live", nil, 200, "active", "partner.live_approved"},
		{"/approve-live", nil, 409, "", ""},
	}
	for _, s := range steps {
		before := e.counts(t)
		args := []any{e.admin}
		if s.body != nil {
			args = append(args, s.body)
		}
		resp := e.api.Post(base+s.path, args...)
		require.Equal(t, s.status, resp.Code, "%s: %s", s.path, resp.Body.String())
		after := e.counts(t)
		if s.status != http.StatusOK {
			assert.Equal(t, before, after, "%s: a refused change writes nothing", s.path)
			continue
		}
		assert.Equal(t, s.wantStatus, decode[partner.Partner](t, resp.Body.Bytes()).Status)
		assert.Equal(t, before[0]+1, after[0], "%s: one edge change", s.path)
		assert.Equal(t, before[1]+1, after[1], "%s: one audit entry", s.path)
		var typ, payload, action, partnerID, actor string
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT type, payload::text FROM edge_changes ORDER BY version DESC LIMIT 1`).Scan(&typ, &payload))
		assert.Equal(t, "partner_upsert", typ)
		assert.JSONEq(t, fmt.Sprintf(`{"id":%q,"status":%q}`, tn.PartnerID, s.wantStatus), payload)
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT action, partner_id, actor_kind FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&action, &partnerID, &actor))
		assert.Equal(t, s.action, action)
		assert.Equal(t, tn.PartnerID, partnerID)
		assert.Equal(t, "admin", actor)
	}
	var approved *time.Time
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT live_approved_at FROM partners WHERE id = $1`, tn.PartnerID).Scan(&approved))
	assert.NotNil(t, approved)

	for name, req := range map[string]struct {
		path string
		body any
	}{
		"suspend without reason": {"/suspend", map[string]any{}},
		"empty reason":           {"/suspend", map[string]any{"reason": ""}},
		"unknown field":          {"/suspend", map[string]any{"reason": "x", "until": "tomorrow"}},
		"malformed JSON":         {"/suspend", strings.NewReader(`{"reason": `)},
	} {
		before := e.counts(t)
		resp := e.api.Post(base+req.path, e.admin, "Content-Type: application/json", req.body)
		assert.Contains(t, []int{400, 422}, resp.Code, "%s: %s", name, resp.Body.String())
		assert.Contains(t, resp.Header().Get("Content-Type"), "problem+json", name)
		assert.Equal(t, before, e.counts(t), "%s: nothing written", name)
	}
	assert.Equal(t, http.StatusNotFound, e.api.Post("/v1/admin/partners/ptr_missing/suspend", e.admin, map[string]any{"reason": "x"}).Code)
}

func TestAuditLogFiltersAndPaginates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := partnertest.Seed(t, e.pool, "Audit A", false)
	b := partnertest.Seed(t, e.pool, "Audit B", false)
	for _, id := range []string{a.PartnerID, b.PartnerID} {
		require.Equal(t, http.StatusOK, e.api.Post("/v1/admin/partners/"+id+"/suspend", e.admin, map[string]any{"reason": "r"}).Code)
		require.Equal(t, http.StatusOK, e.api.Post("/v1/admin/partners/"+id+"/reinstate", e.admin).Code)
	}
	type entries struct {
		Entries    []partner.AuditEntry `json:"entries"`
		NextCursor string               `json:"next_cursor"`
	}
	get := func(q string) entries {
		t.Helper()
		resp := e.api.Get("/v1/admin/audit"+q, e.admin)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		return decode[entries](t, resp.Body.Bytes())
	}
	all := get("")
	require.Len(t, all.Entries, 4)
	assert.Equal(t, "partner.reinstated", all.Entries[0].Action, "newest first")
	assert.Equal(t, "r", all.Entries[3].Details["reason"])
	assert.Len(t, get("?partner_id="+a.PartnerID).Entries, 2)
	assert.Len(t, get("?action=partner.suspended").Entries, 2)
	assert.Len(t, get("?partner_id="+b.PartnerID+"&action=partner.suspended").Entries, 1)
	future := url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	past := url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))
	assert.Empty(t, get("?from="+future).Entries)
	assert.Len(t, get("?from="+past+"&to="+future).Entries, 4)
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/admin/audit?from="+future+"&to="+past, e.admin).Code)

	var ids []int64
	cursor := ""
	for range 5 {
		page := get("?limit=3&cursor=" + cursor)
		for _, en := range page.Entries {
			ids = append(ids, en.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	require.Len(t, ids, 4)
	assert.Greater(t, ids[0], ids[3])
	assert.Equal(t, http.StatusUnprocessableEntity, e.api.Get("/v1/admin/audit?cursor=xyz", e.admin).Code)
}

func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Matrix", false)
	fresh := func() string { return partnertest.Seed(t, e.pool, "Target", false).PartnerID }
	callers := map[string]auth.Principal{"owner": tn.Owner, "developer": tn.Developer, "finance": tn.Finance, "admin": partnertest.Admin()}
	ops := []struct {
		name, action string
		call         func(as string) int
	}{
		{"list", rbac.AdminPartnersRead, func(as string) int { return e.api.Get("/v1/admin/partners", as).Code }},
		{"get", rbac.AdminPartnersRead, func(as string) int { return e.api.Get("/v1/admin/partners/"+tn.PartnerID, as).Code }},
		{"suspend", rbac.AdminPartnersManage, func(as string) int {
			return e.api.Post("/v1/admin/partners/"+fresh()+"/suspend", as, map[string]any{"reason": "x"}).Code
		}},
		{"reinstate", rbac.AdminPartnersManage, func(as string) int {
			id := fresh()
			_, err := e.pool.Exec(context.Background(), `UPDATE partners SET status = 'suspended' WHERE id = $1`, id)
			require.NoError(t, err)
			return e.api.Post("/v1/admin/partners/"+id+"/reinstate", as).Code
		}},
		{"approve-live", rbac.AdminPartnersManage, func(as string) int { return e.api.Post("/v1/admin/partners/"+fresh()+"/approve-live", as).Code }},
		{"audit", rbac.AdminAuditRead, func(as string) int { return e.api.Get("/v1/admin/audit", as).Code }},
	}
	for _, op := range ops {
		for role, p := range callers {
			t.Run(op.name+"/"+role, func(t *testing.T) {
				want := http.StatusForbidden
				if partnertest.Allowed(p, op.action) {
					want = http.StatusOK
				}
				assert.Equal(t, want, op.call(partnertest.Header(p)))
			})
		}
		t.Run(op.name+"/anonymous", func(t *testing.T) {
			assert.Equal(t, http.StatusUnauthorized, op.call("X-Nobody: 1"))
		})
	}
}

func TestOverRealHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tn := partnertest.Seed(t, e.pool, "Wire Co", false)
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	admin, _ := strings.CutPrefix(e.admin, partnertest.PrincipalHeader+": ")
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(partnertest.PrincipalHeader, admin)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, raw
	}
	status, body := do("POST", "/v1/admin/partners/"+tn.PartnerID+"/suspend", `{"reason":"over the wire"}`)
	require.Equal(t, http.StatusOK, status, string(body))
	status, body = do("GET", "/v1/admin/partners?q=wire&status=suspended", "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), tn.PartnerID)
	status, body = do("GET", "/v1/admin/audit?action=partner.suspended", "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), "over the wire")
}

// Huma names schemas by Go type name; the key and partner operations must live in one API
// without a clash, and every request body must refuse unknown fields.
func TestRegistersBesideTheKeyOperationsWithStrictBodies(t *testing.T) {
	t.Parallel()
	_, api := humatest.New(t)
	require.NotPanics(t, func() {
		partner.Register(api, partner.Deps{Partners: &partner.Service{}, RBAC: partnertest.Checker{}})
		apikey.Register(api, apikey.Deps{Keys: &apikey.Service{}, RBAC: partnertest.Checker{}})
	})
	schemas := api.OpenAPI().Components.Schemas.Map()
	for _, name := range []string{"CreateKeyBody", "AdminCreateKeyBody", "UpdateKeyBody", "RollKeyBody", "SuspendPartnerBody", "ReinstatePartnerBody"} {
		s, ok := schemas[name]
		require.True(t, ok, name)
		assert.Equal(t, false, s.AdditionalProperties, name)
	}
}
