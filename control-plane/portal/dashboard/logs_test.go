package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/portal/dashboard"
)

// insertLogs writes rows into the test's request_logs in one batch, as the ingest does.
func (e *env) insertLogs(t *testing.T, rows ...logquery.Row) {
	t.Helper()
	ctx := context.Background()
	batch, err := e.ch.Conn.PrepareBatch(ctx, "INSERT INTO "+warehouse.QuoteIdentifier(e.ch.Database)+".request_logs"+
		" (ts, timestamp_ms, request_id, client_request_id, partner_id, workspace_id, key_id, environment, method, path, route, status,"+
		" latency_total_us, latency_upstream_us, latency_edge_us, client_ip, user_agent, request_bytes, response_bytes,"+
		" decision, denial_code, schema_version, ingested_at)")
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, batch.Append(r.Timestamp.Truncate(time.Second), uint64(r.Timestamp.UnixMilli()), r.RequestID,
			r.ClientRequestID, r.PartnerID, r.WorkspaceID, r.KeyID, r.Environment, r.Method, r.Path, r.Route, r.Status,
			r.LatencyTotalUs, r.LatencyUpstreamUs, r.LatencyEdgeUs, r.ClientIP, r.UserAgent, r.RequestBytes, r.ResponseBytes,
			r.Decision, r.DenialCode, r.SchemaVersion, time.Now().UTC().Truncate(time.Second)))
	}
	require.NoError(t, batch.Send())
}

// principal is the member of email as the services see them.
func (e *env) principal(t *testing.T, email string) auth.Principal {
	t.Helper()
	p := auth.Principal{Kind: auth.KindUser}
	require.NoError(t, e.Pool.QueryRow(context.Background(), `SELECT u.id, m.workspace_id, w.partner_id, m.role
FROM users u JOIN memberships m ON m.user_id = u.id JOIN workspaces w ON w.id = m.workspace_id WHERE u.email = $1`,
		email).Scan(&p.ID, &p.WorkspaceID, &p.PartnerID, &p.Role))
	return p
}

// logRow is a request of p at at; edit changes the defaults (an allowed GET /v1/catalog).
func logRow(p auth.Principal, id string, at time.Time, edit func(*logquery.Row)) logquery.Row {
	r := logquery.Row{Timestamp: at.UTC().Truncate(time.Millisecond), RequestID: id, PartnerID: p.PartnerID, WorkspaceID: p.WorkspaceID,
		KeyID: "key_test_1", Environment: "test", Method: "GET", Path: "/v1/catalog", Route: "catalog.list", Status: 200,
		LatencyTotalUs: 12_300, LatencyUpstreamUs: 11_000, LatencyEdgeUs: 1_300, ClientIP: "203.0.113.7",
		UserAgent: "dashboard-test", RequestBytes: 0, ResponseBytes: 512, Decision: "allow", SchemaVersion: 1}
	if edit != nil {
		edit(&r)
	}
	return r
}

var (
	rowLink   = regexp.MustCompile(`<a class="rid" href="/app/logs/([^"]+)">`)
	olderLink = regexp.MustCompile(`href="([^"]+)" id="older"`)
	newerLink = regexp.MustCompile(`href="([^"]+)" id="newer"`)
)

// shown returns the request ids of the rows on p, in order.
func shown(p page) []string {
	var ids []string
	for _, m := range rowLink.FindAllStringSubmatch(p.Body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func link(t *testing.T, re *regexp.Regexp, p page) string {
	t.Helper()
	m := re.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no %s link on the page:\n%s", re, p.Body)
	return html.UnescapeString(m[1])
}

func TestTheLogExplorerKeepsItsFiltersInTheURLAndPagesWithTheCursor(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	p := e.principal(t, b.signup("Logs Co"))
	other := e.Signup("Other Co")
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	orders := func(r *logquery.Row) {
		r.Method, r.Path, r.Route, r.Status, r.KeyID = "POST", "/v1/orders", "orders.create", 201, "key_orders"
	}
	e.insertLogs(t,
		logRow(p, "req_o1", base.Add(1*time.Minute), orders),
		logRow(p, "req_o2", base.Add(2*time.Minute), orders),
		logRow(p, "req_o3", base.Add(3*time.Minute), orders),
		logRow(p, "req_o4", base.Add(4*time.Minute), orders),
		logRow(p, "req_o5", base.Add(5*time.Minute), orders),
		logRow(p, "req_old", base.Add(-2*time.Hour), orders), // before from
		logRow(p, "req_live", base.Add(6*time.Minute), func(r *logquery.Row) { orders(r); r.Environment = "live" }),
		logRow(p, "req_denied", base.Add(7*time.Minute), func(r *logquery.Row) {
			r.Status, r.Decision, r.DenialCode, r.KeyID = 401, "deny", "invalid_key", ""
		}),
		logRow(p, "req_client", base.Add(8*time.Minute), func(r *logquery.Row) { r.ClientRequestID = "order-7f3a" }),
		logRow(auth.Principal{PartnerID: other.PartnerID, WorkspaceID: other.WorkspaceID}, "req_theirs", base.Add(9*time.Minute), nil),
	)

	all := b.get("/app/logs")
	require.Equal(t, http.StatusOK, all.StatusCode, all.Body)
	assert.Equal(t, []string{"req_client", "req_denied", "req_live", "req_o5", "req_o4", "req_o3", "req_o2", "req_o1", "req_old"}, shown(all),
		"newest first, only this partner's")
	assert.Contains(t, all.Body, `href="/app/logs" aria-current="page">Logs</a>`, "the top bar links the explorer")

	// A filtered view's address carries every filter; the page shows them in the form.
	from := base.Add(-time.Hour).UTC().Format("2006-01-02T15:04")
	filters := url.Values{"status": {"2xx"}, "method": {"post"}, "route": {"orders.create"}, "path_prefix": {"/v1/ord"},
		"key_id": {"key_orders"}, "environment": {"test"}, "from": {from}, "to": {base.Add(time.Hour).UTC().Format(time.RFC3339)}, "limit": {"2"}}
	first := b.get("/app/logs?" + filters.Encode())
	require.Equal(t, http.StatusOK, first.StatusCode, first.Body)
	assert.Equal(t, []string{"req_o5", "req_o4"}, shown(first))
	for field, value := range map[string]string{"status": "2xx", "method": "POST", "route": "orders.create", "path_prefix": "/v1/ord",
		"key_id": "key_orders", "from": from, "limit": "2"} {
		assert.Regexp(t, `id="f-`+field+`" name="`+field+`" [^>]*value="`+regexp.QuoteMeta(value)+`"`, first.Body, field)
	}
	assert.Contains(t, first.Body, `<option value="test" selected>`)
	assert.NotContains(t, first.Body, `id="newer"`, "the first page has no newer page")

	older := link(t, olderLink, first)
	u, err := url.Parse(older)
	require.NoError(t, err)
	q := u.Query()
	for _, name := range []string{"status", "method", "route", "path_prefix", "key_id", "environment", "from", "to", "limit"} {
		assert.NotEmpty(t, q.Get(name), "the Older link keeps %s", name)
	}
	assert.Equal(t, "POST", q.Get("method"))
	require.NotEmpty(t, q.Get("cursor"))

	second := b.get(older)
	require.Equal(t, http.StatusOK, second.StatusCode, second.Body)
	assert.Equal(t, []string{"req_o3", "req_o2"}, shown(second))
	third := b.get(link(t, olderLink, second))
	require.Equal(t, http.StatusOK, third.StatusCode, third.Body)
	assert.Equal(t, []string{"req_o1"}, shown(third), "req_old is before from")
	assert.NotContains(t, third.Body, `id="older"`, "the last page")
	back := b.get(link(t, newerLink, third))
	assert.Equal(t, []string{"req_o3", "req_o2"}, shown(back), "Newer goes back one page")
	assert.Equal(t, []string{"req_o5", "req_o4"}, shown(b.get(link(t, newerLink, back))))
	assert.Contains(t, third.Body, `id="newest"`)

	// The other filters the explorer supports.
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"denial_code=invalid_key", []string{"req_denied"}},
		{"status=401", []string{"req_denied"}},
		{"status=4xx&environment=test", []string{"req_denied"}},
		{"environment=live", []string{"req_live"}},
		{"client_request_id=order-7f3a", []string{"req_client"}},
		{"request_id=req_o3", []string{"req_o3"}},
		{"path=%2Fv1%2Fcatalog", []string{"req_client", "req_denied"}},
		{"request_id=req_theirs", nil},
	} {
		res := b.get("/app/logs?" + c.query)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s: %s", c.query, res.Body)
		assert.Equal(t, c.want, shown(res), c.query)
	}
	assert.Contains(t, b.get("/app/logs?request_id=req_theirs").Body, "No request matches these filters")

	// The form sends its blank fields too: the address keeps only the filters set.
	blank := b.get("/app/logs?status=4xx&method=&route=&environment=&from=&limit=")
	require.Equal(t, http.StatusSeeOther, blank.StatusCode, blank.Body)
	assert.Equal(t, "/app/logs?status=4xx", blank.Header.Get("Location"))
}

func TestBadLogFiltersRerenderWithTheirFieldAs422(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	p := e.principal(t, b.signup("Typo Co"))
	now := time.Now()
	e.insertLogs(t, logRow(p, "req_1", now.Add(-2*time.Minute), nil), logRow(p, "req_2", now.Add(-time.Minute), nil))
	okPage := b.get("/app/logs?status=2xx&limit=1")
	require.Equal(t, http.StatusOK, okPage.StatusCode, okPage.Body)
	staleCursor := url.Values{"cursor": {mustQuery(t, link(t, olderLink, okPage)).Get("cursor")}}

	for _, c := range []struct {
		query, field, message, kept string
	}{
		{"status=600", "status", "must be a status code (100-599) or a class (1xx-5xx)", "600"},
		{"status=abc", "status", "must be a status code", "abc"},
		{"method=g3t", "method", "must be an HTTP method", "G3T"},
		{"environment=prod", "environment", "must be test or live", ""},
		{"from=yesterday", "from", "enter a date and time in UTC", "yesterday"},
		{"from=2026-11-30T12:00&to=2026-11-30T11:00", "to", "must be after from", "2026-11-30T11:00"},
		{"limit=0", "limit", "must be a number from 1 to 200", "0"},
		{"limit=lots", "limit", "must be a number from 1 to 200", "lots"},
		{"client_request_id=" + url.QueryEscape("not ok!"), "client_request_id", "letters, digits", "not ok!"},
		{"denial_code=NOPE", "denial_code", "must be a denial code", "NOPE"},
		{"path=orders", "path", "must start with /", "orders"},
		{"path=%2Fa&path_prefix=%2Fb", "path_prefix", "give path or path_prefix, not both", "/b"},
		{"route=" + url.QueryEscape("a\x07b"), "route", "printable text", ""},
	} {
		t.Run(c.query, func(t *testing.T) {
			res := b.get("/app/logs?" + c.query)
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.Body)
			assert.Contains(t, html.UnescapeString(res.Body), c.message)
			assert.Regexp(t, `id="f-`+c.field+`" [^>]*aria-invalid="true" aria-describedby="f-`+c.field+`-error"`, res.Body)
			if c.kept != "" {
				assert.Contains(t, html.UnescapeString(res.Body), `value="`+c.kept+`"`, "what was typed is kept")
			}
			assert.Empty(t, shown(res), "no rows beside an error")
		})
	}
	for _, c := range []struct{ name, query string }{
		{"a tampered cursor", "cursor=bm90IGEgY3Vyc29y"},
		{"a cursor of other filters", "status=4xx&" + staleCursor.Encode()},
		{"a cursor that is not one", "cursor=" + url.QueryEscape("<script>")},
		{"a bad newer trail", "cursor=" + staleCursor.Get("cursor") + "&prev=" + url.QueryEscape("a b")},
	} {
		res := b.get("/app/logs?" + c.query)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "%s: %s", c.name, res.Body)
		assert.Contains(t, res.Body, `<p class="notice" role="alert">`, c.name)
		assert.Contains(t, res.Body, "Start again from the newest requests", c.name)
	}
	assert.Equal(t, http.StatusOK, b.get("/app/logs?status=2xx&"+staleCursor.Encode()).StatusCode, "the cursor works with its own filters")
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u.Query()
}

func TestARequestPageShowsEveryFieldAndTheWebhookItCaused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	email := b.signup("Detail Co")
	p := e.principal(t, email)
	e.addEndpoint(t, email)
	form := b.get("/app/console")
	res := b.post("/app/console", url.Values{dashboard.CSRFField: {token(t, form, "/app/console")}, "product_id": {"sbx_amazing_books"}, "amount": {"25"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	id := requestIDText.FindStringSubmatch(res.Body)[1]
	assert.Contains(t, res.Body, `<a id="open-in-logs" href="/app/logs/`+id+`">Open in logs</a>`, "the console links the request's page")
	assert.Contains(t, res.Body, "GET /v1/logs/"+id, "and names it in the API")

	// The edge's request log reaches ClickHouse through the ingest; here the test writes it.
	at := time.Now().Add(-time.Second)
	e.insertLogs(t, logRow(p, id, at, func(r *logquery.Row) {
		r.Method, r.Path, r.Route, r.Status, r.KeyID = "POST", "/v1/orders", "orders.create", 201, "key_console_9"
		r.ClientRequestID, r.ClientIP, r.UserAgent, r.RequestBytes, r.ResponseBytes = "console-17", "198.51.100.4", "steller-console/1", 61, 377
		r.LatencyTotalUs, r.LatencyUpstreamUs, r.LatencyEdgeUs = 45_600, 40_100, 5_500
	}))

	var detail page
	require.Eventually(t, func() bool {
		detail = b.get("/app/logs/" + id)
		return strings.Contains(detail.Body, `<span class="dstatus delivered">delivered</span>`)
	}, 15*time.Second, 100*time.Millisecond, "the order.completed delivery shows up delivered")
	require.Equal(t, http.StatusOK, detail.StatusCode)
	body := html.UnescapeString(detail.Body)
	for _, want := range []string{
		`<code id="log-request-id">` + id + `</code>`, "<code>console-17</code>", at.UTC().Format("2006-01-02 15:04:05.000") + " UTC",
		"<code>POST</code>", "<code>/v1/orders</code>", "<code>orders.create</code>", `<span class="status c2xx" id="log-status">201</span>`,
		"<dd>allow</dd>", "<dd>test</dd>", "<code>key_console_9</code>", "<code>" + p.PartnerID + "</code>", "<code>" + p.WorkspaceID + "</code>",
		"45.6 ms total: 40.1 ms upstream, 5.5 ms at the edge", "<code>198.51.100.4</code>", "<code>steller-console/1</code>",
		"<dd>61 bytes</dd>", "<dd>377 bytes</dd>", "<dd>1</dd>", "GET /v1/logs/" + id,
		`href="/app/logs?key_id=key_console_9"`, `href="/app/logs?client_request_id=console-17"`,
		"<code>order.completed</code>", "<td>200</td>",
	} {
		assert.Contains(t, body, want)
	}
	var eventID string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT event_id FROM webhook_deliveries WHERE request_id = $1 AND event_type = 'order.completed'`, id).Scan(&eventID))
	assert.Contains(t, body, "webhook-id: "+eventID, "the delivery of this request's order")

	// A denied request names its code with a link to the errors guide, and caused nothing.
	e.insertLogs(t, logRow(p, "req_denied_1", at, func(r *logquery.Row) { r.Status, r.Decision, r.DenialCode, r.KeyID = 403, "deny", "ip_not_allowed", "" }))
	denied := b.get("/app/logs/req_denied_1")
	require.Equal(t, http.StatusOK, denied.StatusCode, denied.Body)
	assert.Contains(t, denied.Body, `<a href="/docs/errors#ip_not_allowed"><code>ip_not_allowed</code></a>`)
	assert.Contains(t, denied.Body, "this request caused no webhook delivery")
	assert.Contains(t, denied.Body, "not identified")

	// Unknown ids and another partner's requests are not found; a bad id is a 422 page.
	other := e.Signup("Nosy Co")
	e.insertLogs(t, logRow(auth.Principal{PartnerID: other.PartnerID, WorkspaceID: other.WorkspaceID}, "req_theirs", at, nil))
	assert.Equal(t, http.StatusNotFound, b.get("/app/logs/req_nope").StatusCode)
	assert.Equal(t, http.StatusNotFound, b.get("/app/logs/req_theirs").StatusCode)
	assert.Equal(t, http.StatusUnprocessableEntity, b.get("/app/logs/"+strings.Repeat("x", 200)).StatusCode)
	assert.Equal(t, http.StatusUnprocessableEntity, b.get("/app/logs/a%01b").StatusCode)
}

func TestAFinanceMemberCannotReachLogsByAnyLinkOrURL(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("Ledger Co")
	e.insertLogs(t, logRow(auth.Principal{PartnerID: p.PartnerID, WorkspaceID: p.WorkspaceID}, "req_ledger", time.Now().Add(-time.Minute), nil))
	for _, c := range []struct {
		role   string
		status int
	}{{auth.RoleFinance, http.StatusForbidden}, {auth.RoleDeveloper, http.StatusOK}} {
		t.Run(c.role, func(t *testing.T) {
			b := e.visitor(t)
			b.sessionCookie(e.AddMember(p.WorkspaceID, c.role).Token)
			list, one := b.get("/app/logs?status=2xx"), b.get("/app/logs/req_ledger")
			assert.Equal(t, c.status, list.StatusCode)
			assert.Equal(t, c.status, one.StatusCode)
			home := b.get("/app")
			require.Equal(t, http.StatusOK, home.StatusCode)
			if c.role == auth.RoleDeveloper {
				assert.Contains(t, home.Body, `href="/app/logs"`, "a developer's top bar links the explorer")
				assert.Contains(t, one.Body, "req_ledger")
				return
			}
			assert.NotContains(t, list.Body, "req_ledger")
			assert.NotContains(t, one.Body, "req_ledger")
			// No page Finance can open shows a link to, or the address of, the logs.
			for _, path := range []string{"/app", "/app/console", "/app/console/webhooks?request_id=req_ledger", "/app/logs",
				"/app/logs/req_ledger", "/app/logs?cursor=x", "/"} {
				res := b.get(path)
				assert.NotContains(t, res.Body, "/app/logs", path)
				assert.NotContains(t, res.Body, "/v1/logs", path)
				assert.NotContains(t, res.Body, ">Logs<", path)
			}
		})
	}
}
