package explorer_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/explorer"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
)

// store is a fake logquery store: it records the queries it is given and serves rows of
// the partner the query names, so the tests see exactly what the API asked for.
type store struct {
	mu      sync.Mutex
	filters []logquery.Filter
	afters  []*logquery.Cursor
	usage   []logquery.UsageQuery
	rows    map[string][]logquery.Row // by partner
	fail    error
}

func (s *store) Logs(_ context.Context, f logquery.Filter, after *logquery.Cursor, limit int) (logquery.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filters, s.afters = append(s.filters, f), append(s.afters, after)
	if s.fail != nil {
		return logquery.Page{}, s.fail
	}
	rows := s.rows[f.PartnerID]
	pg := logquery.Page{Rows: rows}
	if len(rows) > limit {
		pg.Rows = rows[:limit]
		next := pg.Rows[limit-1].Cursor()
		pg.Next = &next
	}
	return pg, nil
}

func (s *store) Request(_ context.Context, partnerID, requestID string) (logquery.Row, bool, error) {
	for _, r := range s.rows[partnerID] {
		if r.RequestID == requestID {
			return r, true, nil
		}
	}
	return logquery.Row{}, false, nil
}

func (s *store) Usage(_ context.Context, q logquery.UsageQuery) (logquery.Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = append(s.usage, q)
	return logquery.Usage{Interval: q.Interval, From: q.From, To: q.To}, s.fail
}

func (s *store) UsageByPartner(context.Context, time.Time, time.Time, int) ([]logquery.PartnerUsage, error) {
	return []logquery.PartnerUsage{{PartnerID: "ptr_a", Requests: 3}}, s.fail
}

// deliveries is a fake webhook lookup keyed by workspace and request id.
type deliveries map[string][]webhook.Delivery

func (d deliveries) DeliveriesForRequest(_ context.Context, p auth.Principal, requestID string) ([]webhook.Delivery, error) {
	return d[p.WorkspaceID+"/"+requestID], nil
}

var (
	now     = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tenantA = tenant("ptr_a", "ws_a")
	tenantB = tenant("ptr_b", "ws_b")
	admin   = auth.Principal{Kind: auth.KindAdmin, ID: "adm_1"}
)

func tenant(partner, ws string) partnertest.Tenant {
	p := func(role string) auth.Principal {
		return auth.Principal{Kind: auth.KindUser, ID: "usr_" + role + "_" + partner, PartnerID: partner, WorkspaceID: ws, Role: role}
	}
	return partnertest.Tenant{PartnerID: partner, WorkspaceID: ws, Owner: p(auth.RoleOwner), Developer: p(auth.RoleDeveloper), Finance: p(auth.RoleFinance)}
}

func rows(partner, ws string, n int) []logquery.Row {
	out := make([]logquery.Row, n)
	for i := range out {
		ms := uint64(now.UnixMilli()) - uint64(i)*1000
		out[i] = logquery.Row{RequestID: partner + "_req_" + string(rune('a'+i)), PartnerID: partner, WorkspaceID: ws,
			Timestamp: time.UnixMilli(int64(ms)).UTC(), Status: 200, Method: "GET", Path: "/v1/catalog"}
	}
	return out
}

type env struct {
	api   humatest.TestAPI
	store *store
}

func setup(t *testing.T) env {
	t.Helper()
	s := &store{rows: map[string][]logquery.Row{"ptr_a": rows("ptr_a", "ws_a", 5), "ptr_b": rows("ptr_b", "ws_b", 3)}}
	hooks := deliveries{"ws_a/ptr_a_req_a": {{ID: "whd_1", EventType: "order.completed", Status: "delivered"}}}
	_, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	explorer.Register(api, explorer.Deps{Store: s, Deliveries: hooks, RBAC: partnertest.Checker{}, Now: func() time.Time { return now }})
	return env{api: api, store: s}
}

type logList struct {
	Logs []struct {
		RequestID string `json:"request_id"`
		PartnerID string `json:"partner_id"`
	} `json:"logs"`
	NextCursor string `json:"next_cursor"`
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

func TestRolesReadLogsAndUsageAsThePolicySays(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, c := range []struct {
		who        string
		as         string
		logs, used int
	}{
		{"owner", partnertest.Header(tenantA.Owner), 200, 200},
		{"developer", partnertest.Header(tenantA.Developer), 200, 200},
		{"finance", partnertest.Header(tenantA.Finance), 403, 200},
		{"admin on partner paths", partnertest.Header(admin), 403, 403},
		{"anonymous", "", 401, 401},
	} {
		t.Run(c.who, func(t *testing.T) {
			get := func(path string) int {
				if c.as == "" {
					return e.api.Get(path).Code
				}
				return e.api.Get(path, c.as).Code
			}
			assert.Equal(t, c.logs, get("/v1/logs"), "GET /v1/logs")
			assert.Equal(t, c.logs, get("/v1/logs/ptr_a_req_a"), "GET /v1/logs/{id}")
			assert.Equal(t, c.used, get("/v1/usage"), "GET /v1/usage")
		})
	}
	// Admin paths: admins only.
	for _, path := range []string{"/v1/admin/partners/ptr_a/logs", "/v1/admin/partners/ptr_a/logs/ptr_a_req_a",
		"/v1/admin/partners/ptr_a/usage", "/v1/admin/usage"} {
		assert.Equal(t, http.StatusOK, e.api.Get(path, partnertest.Header(admin)).Code, path)
		assert.Equal(t, http.StatusForbidden, e.api.Get(path, partnertest.Header(tenantA.Owner)).Code, path)
	}
}

func TestAPartnerOnlyEverQueriesItsOwnRows(t *testing.T) {
	t.Parallel()
	e := setup(t)
	as := partnertest.Header(tenantB.Developer)
	resp := e.api.Get("/v1/logs?limit=200", as)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	for _, r := range decode[logList](t, resp.Body.String()).Logs {
		assert.Equal(t, "ptr_b", r.PartnerID)
	}
	// Another partner's request id is not found, even when named exactly.
	assert.Equal(t, http.StatusNotFound, e.api.Get("/v1/logs/ptr_a_req_a", as).Code)
	// No query parameter can name a partner: the filter always carries the caller's.
	e.api.Get("/v1/logs?partner_id=ptr_a", as)
	e.api.Get("/v1/usage?partner_id=ptr_a", as)
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	for _, f := range e.store.filters {
		assert.Equal(t, "ptr_b", f.PartnerID)
	}
	for _, q := range e.store.usage {
		assert.Equal(t, "ptr_b", q.PartnerID)
	}
}

func TestRequestDetailShowsItsWebhooks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp := e.api.Get("/v1/logs/ptr_a_req_a", partnertest.Header(tenantA.Owner))
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	body := decode[explorer.RequestDetail](t, resp.Body.String())
	assert.Equal(t, "ptr_a_req_a", body.Request.RequestID)
	require.Len(t, body.Webhooks, 1)
	assert.Equal(t, "whd_1", body.Webhooks[0].ID)
	resp = e.api.Get("/v1/logs/ptr_a_req_b", partnertest.Header(tenantA.Owner))
	require.Equal(t, http.StatusOK, resp.Code)
	assert.Contains(t, resp.Body.String(), `"webhooks":[]`)
}

func TestPagesFollowTheCursorAndRefuseATamperedOne(t *testing.T) {
	t.Parallel()
	e := setup(t)
	as := partnertest.Header(tenantA.Owner)
	var seen []string
	next := ""
	for range 10 {
		q := url.Values{"limit": {"2"}, "status": {"2xx"}}
		if next != "" {
			q.Set("cursor", next)
		}
		resp := e.api.Get("/v1/logs?"+q.Encode(), as)
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		pg := decode[logList](t, resp.Body.String())
		for _, r := range pg.Logs {
			seen = append(seen, r.RequestID)
		}
		if next = pg.NextCursor; next == "" {
			break
		}
	}
	require.GreaterOrEqual(t, len(seen), 2)
	assert.Equal(t, []string{"ptr_a_req_a", "ptr_a_req_b"}, seen[:2], "newest first")
	// The fake store always serves from the top: what matters is that each cursor decodes
	// to the last row of the page before.
	e.store.mu.Lock()
	afters := e.store.afters
	e.store.mu.Unlock()
	require.GreaterOrEqual(t, len(afters), 2)
	assert.Nil(t, afters[0])
	require.NotNil(t, afters[1])
	assert.Equal(t, "ptr_a_req_b", afters[1].RequestID)
	assert.Equal(t, uint64(now.UnixMilli())-1000, afters[1].TimestampMs)

	first := decode[logList](t, e.api.Get("/v1/logs?limit=2", as).Body.String()).NextCursor
	require.NotEmpty(t, first)
	for name, bad := range map[string]string{
		"not base64":            "%%%",
		"not a cursor":          "bm90IGpzb24",
		"edited":                first[:len(first)-2] + "AA",
		"another filter's":      first + "&status=5xx",
		"another partner's use": first,
	} {
		t.Run(name, func(t *testing.T) {
			as := as
			q := "/v1/logs?limit=2&cursor=" + url.QueryEscape(bad)
			if strings.Contains(bad, "&status=") {
				q = "/v1/logs?limit=2&status=5xx&cursor=" + url.QueryEscape(first)
			}
			if name == "another partner's use" {
				as = partnertest.Header(tenantB.Owner)
			}
			resp := e.api.Get(q, as)
			assert.Equal(t, http.StatusUnprocessableEntity, resp.Code, resp.Body.String())
			assert.Contains(t, resp.Body.String(), "query.cursor")
		})
	}
}

func TestBadFiltersAreNamedInA422(t *testing.T) {
	t.Parallel()
	e := setup(t)
	as := partnertest.Header(tenantA.Owner)
	for _, c := range []struct{ query, field string }{
		{"status=4x", "query.status"},
		{"status=700", "query.status"},
		{"status=abc", "query.status"},
		{"method=get%20x", "query.method"},
		{"environment=staging", "query.environment"},
		{"limit=201", "query.limit"},
		{"limit=0", "query.limit"},
		{"from=yesterday", "query.from"},
		{"from=2026-11-30T12:00:00Z&to=2026-11-29T12:00:00Z", "query.to"},
		{"path=/v1/a&path_prefix=/v1", "query.path_prefix"},
		{"denial_code=Not%20A%20Code", "query.denial_code"},
		{"client_request_id=has%20space", "query.client_request_id"},
		{"client_request_id=" + strings.Repeat("c", 129), "query.client_request_id"},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp := e.api.Get("/v1/logs?"+c.query, as)
			require.Equal(t, http.StatusUnprocessableEntity, resp.Code, resp.Body.String())
			assert.Contains(t, resp.Body.String(), c.field)
		})
	}
	for _, c := range []struct{ query, field string }{
		{"interval=week", "query.interval"},
		{"from=2026-11-30T12:00:00Z&to=2026-11-30T11:00:00Z", "query.to"},
	} {
		resp := e.api.Get("/v1/usage?"+c.query, as)
		require.Equal(t, http.StatusUnprocessableEntity, resp.Code, resp.Body.String())
		assert.Contains(t, resp.Body.String(), c.field, c.query)
	}
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	assert.Empty(t, e.store.filters, "a bad filter reached the store")
}

func TestUsageDefaultsToTheLastDayByHour(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp := e.api.Get("/v1/usage", partnertest.Header(tenantA.Finance))
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	require.Len(t, e.store.usage, 1)
	q := e.store.usage[0]
	assert.Equal(t, logquery.UsageQuery{PartnerID: "ptr_a", From: now.Add(-24 * time.Hour), To: now, Interval: "hour"}, q)
}

func TestAStoreFailureIsA503NotAPartialAnswer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.store.fail = errors.New("clickhouse: connection refused")
	for _, path := range []string{"/v1/logs", "/v1/usage"} {
		resp := e.api.Get(path, partnertest.Header(tenantA.Owner))
		assert.Equal(t, http.StatusServiceUnavailable, resp.Code, path)
		assert.NotContains(t, resp.Body.String(), "connection refused", "driver errors stay in the logs")
	}
}

// The client's X-Request-Id is a filter of both log lists, validated by the same rule the
// edge applies (in the OpenAPI document too), and shown in rows and in request detail.
func TestClientRequestIDFiltersAndIsShown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.store.rows["ptr_a"][0].ClientRequestID = "order-7f3a"
	resp := e.api.Get("/v1/logs?client_request_id=order-7f3a", partnertest.Header(tenantA.Owner))
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	assert.Contains(t, resp.Body.String(), `"client_request_id":"order-7f3a"`)
	resp = e.api.Get("/v1/admin/partners/ptr_a/logs?client_request_id=a:b.c_d-e", partnertest.Header(admin))
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	resp = e.api.Get("/v1/logs/ptr_a_req_a", partnertest.Header(tenantA.Owner))
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	assert.Equal(t, "order-7f3a", decode[explorer.RequestDetail](t, resp.Body.String()).Request.ClientRequestID)

	e.store.mu.Lock()
	got := []string{}
	for _, f := range e.store.filters {
		got = append(got, f.ClientRequestID)
	}
	e.store.mu.Unlock()
	assert.Equal(t, []string{"order-7f3a", "a:b.c_d-e"}, got)

	for _, path := range []string{"/v1/logs", "/v1/admin/partners/{partnerId}/logs"} {
		op := e.api.OpenAPI().Paths[path].Get
		var found bool
		for _, p := range op.Parameters {
			if p.Name == "client_request_id" {
				found = true
				assert.Equal(t, identity.ClientRequestIDPattern, p.Schema.Pattern, path)
				require.NotNil(t, p.Schema.MaxLength, path)
				assert.Equal(t, identity.MaxClientRequestIDLen, *p.Schema.MaxLength, path)
			}
		}
		assert.True(t, found, "%s has no client_request_id parameter", path)
	}
}
