package dashboard_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/portal/dashboard"
)

// hookReceiver is a webhook endpoint answering with a status the test sets, keeping the
// webhook-id and webhook-signature of every request it got.
type hookReceiver struct {
	status atomic.Int32
	mu     sync.Mutex
	ids    []string
	sigs   []string
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	h.status.Store(int32(status))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.ids = append(h.ids, r.Header.Get("webhook-id"))
		h.sigs = append(h.sigs, r.Header.Get("webhook-signature"))
		h.mu.Unlock()
		w.WriteHeader(int(h.status.Load()))
		_, _ = io.WriteString(w, "received")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) got() (ids, sigs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...), append([]string(nil), h.sigs...)
}

var (
	endpointIDText = regexp.MustCompile(`action="/app/webhooks/(whe_[A-Za-z0-9_-]+)/test"`)
	secretText     = regexp.MustCompile(`<code id="secret-value">(whsec_[^<]+)</code>`)
	deliveryPath   = regexp.MustCompile(`^/app/webhooks/whe_[A-Za-z0-9_-]+/deliveries/(whd_[A-Za-z0-9_-]+)\?sent=1$`)
)

// createEndpoint adds an endpoint through the page and returns its id and the page.
func (b *visitor) createEndpoint(hookURL, environment string, types ...string) (string, page) {
	b.t.Helper()
	list := b.get("/app/webhooks")
	require.Equal(b.t, http.StatusOK, list.StatusCode, list.Body)
	res := b.post("/app/webhooks", url.Values{dashboard.CSRFField: {token(b.t, list, "/app/webhooks")}, "url": {hookURL},
		"environment": {environment}, "event_types": types})
	require.Equal(b.t, http.StatusCreated, res.StatusCode, res.Body)
	m := endpointIDText.FindStringSubmatch(res.Body)
	require.NotNil(b.t, m, res.Body)
	return m[1], res
}

// postOn sends the form posting to action found on the page at pagePath.
func (b *visitor) postOn(pagePath, action string, form url.Values) page {
	b.t.Helper()
	p := b.get(pagePath)
	require.Equal(b.t, http.StatusOK, p.StatusCode, p.Body)
	if form == nil {
		form = url.Values{}
	}
	form.Set(dashboard.CSRFField, token(b.t, p, action))
	return b.post(action, form)
}

func TestCreatingAnEndpointShowsItsSecretOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Hook Co")
	list := b.get("/app/webhooks")
	require.Equal(t, http.StatusOK, list.StatusCode, list.Body)
	assert.Contains(t, list.Body, `<a href="/app/webhooks" aria-current="page">Webhooks</a>`, "the top bar links the page")
	assert.Contains(t, list.Body, `id="no-endpoints"`)
	for _, typ := range []string{"order.created", "order.completed", "order.failed"} {
		assert.Contains(t, list.Body, `name="event_types" value="`+typ+`"`, "the form offers every event type the service supports")
	}
	assert.Contains(t, b.get("/app").Body, `href="/app/webhooks"`)

	hook := newHookReceiver(t, http.StatusOK)
	id, created := b.createEndpoint(hook.srv.URL+"/hooks", "test", "order.completed", "order.failed")
	m := secretText.FindStringSubmatch(created.Body)
	require.NotNil(t, m, created.Body)
	var stored string
	var types []string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT secret, event_types FROM webhook_endpoints WHERE id = $1`, id).Scan(&stored, &types))
	assert.Equal(t, stored, html.UnescapeString(m[1]), "the page shows the endpoint's secret")
	assert.Equal(t, []string{"order.completed", "order.failed"}, types)
	assert.Contains(t, created.Body, "shown only this once")
	assert.NotContains(t, created.Body, `id="requeued"`, "no redelivery was asked")
	assert.Contains(t, created.Body, `<pre class="code"><code id="secret-value">`, "a code block: selectable, with a copy button when JS runs")

	again := b.get("/app/webhooks/" + id)
	require.Equal(t, http.StatusOK, again.StatusCode)
	assert.NotContains(t, html.UnescapeString(again.Body), stored, "the secret is never shown again")
	listed := b.get("/app/webhooks")
	assert.NotContains(t, html.UnescapeString(listed.Body), stored)
	assert.Contains(t, listed.Body, html.EscapeString(hook.srv.URL+"/hooks"))
	assert.Contains(t, listed.Body, `<span class="hstate on">enabled</span>`)
	assert.Equal(t, http.StatusNotFound, b.get("/app/webhooks/whe_nope").StatusCode)
	assert.Equal(t, http.StatusNotFound, b.get("/app/webhooks/%3Cb%3E").StatusCode)
}

func TestBadEndpointInputIsRerenderedWithWhatWasTyped(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Typo Co")
	list := b.get("/app/webhooks")
	tok := token(t, list, "/app/webhooks")
	cases := []struct {
		name, url, env string
		types          []string
		field, message string
	}{
		{"not a URL", "not a url", "test", []string{"order.completed"}, "url", "must be absolute"},
		{"http for live", "http://127.0.0.1:9/hooks", "live", []string{"order.failed"}, "url", "must use https"},
		{"ftp", "ftp://example.com/hooks", "test", []string{"order.completed"}, "url", "must use https"},
		{"credentials", "https://user:pw@example.com/hooks", "test", []string{"order.completed"}, "url", "must not carry credentials"},
		{"no event type", "https://example.com/hooks", "test", nil, "event_types", "at least one event type"},
		{"unknown event type", "https://example.com/hooks", "test", []string{"order.refunded"}, "event_types", "event types listed"},
		{"no environment", "https://example.com/hooks", "prod", []string{"order.completed"}, "environment", "test or live"},
		{"NUL byte", "https://example.com/\x00", "test", []string{"order.completed"}, "url", "without control characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := b.post("/app/webhooks", url.Values{dashboard.CSRFField: {tok}, "url": {tc.url}, "environment": {tc.env}, "event_types": tc.types})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.Body)
			assert.Contains(t, html.UnescapeString(res.Body), tc.message)
			if tc.field == "url" {
				assert.Regexp(t, `id="f-url"[^>]*aria-invalid="true"`, res.Body, "the message is at its field")
			}
			if !strings.Contains(tc.url, "\x00") {
				assert.Contains(t, res.Body, `value="`+html.EscapeString(tc.url)+`"`, "the URL typed is kept")
			}
			if tc.env == "live" {
				assert.Contains(t, res.Body, `value="live" checked`, "the environment chosen is kept")
			}
			for _, typ := range tc.types {
				if strings.HasPrefix(typ, "order.c") || typ == "order.failed" {
					assert.Contains(t, res.Body, `value="`+typ+`" checked`, "the event types ticked are kept")
				}
			}
		})
	}
	assert.Zero(t, e.Count("webhook_endpoints"), "nothing was created")
}

func TestEditingDisablingAndDeletingAnEndpoint(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Edit Co")
	hook := newHookReceiver(t, http.StatusOK)
	id, _ := b.createEndpoint(hook.srv.URL+"/a", "test", "order.completed")
	path := "/app/webhooks/" + id

	res := b.postOn(path, path, url.Values{"url": {hook.srv.URL + "/b"}, "event_types": {"order.created", "order.failed"}, "description": {"Orders desk"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, path, res.Header.Get("Location"))
	var gotURL, desc string
	var types []string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT url, event_types, description FROM webhook_endpoints WHERE id = $1`, id).Scan(&gotURL, &types, &desc))
	assert.Equal(t, hook.srv.URL+"/b", gotURL)
	assert.Equal(t, []string{"order.created", "order.failed"}, types)
	assert.Equal(t, "Orders desk", desc)

	bad := b.postOn(path, path, url.Values{"url": {"https://user:pw@example.com/"}, "event_types": {"order.completed"}, "description": {"typed"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode, bad.Body)
	assert.Contains(t, bad.Body, `value="https://user:pw@example.com/"`, "the URL typed is kept")
	assert.Contains(t, bad.Body, `value="typed"`)
	assert.Contains(t, bad.Body, `value="order.completed" checked`)
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT url FROM webhook_endpoints WHERE id = $1`, id).Scan(&gotURL))
	assert.Equal(t, hook.srv.URL+"/b", gotURL, "a refused edit changes nothing")

	res = b.postOn(path, path+"/disable", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	shown := b.get(path)
	assert.Contains(t, shown.Body, `<span class="hstate off">disabled by your team</span>`)
	assert.NotContains(t, shown.Body, `id="disabled-endpoints"`, "an endpoint the team disabled is no alert")
	var enabled bool
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT enabled FROM webhook_endpoints WHERE id = $1`, id).Scan(&enabled))
	assert.False(t, enabled)
	res = b.postOn(path, path+"/enable", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT enabled FROM webhook_endpoints WHERE id = $1`, id).Scan(&enabled))
	assert.True(t, enabled)

	confirm := b.get(path + "/delete")
	require.Equal(t, http.StatusOK, confirm.StatusCode)
	assert.Contains(t, confirm.Body, "Delete this endpoint?")
	var deleted bool
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT deleted_at IS NOT NULL FROM webhook_endpoints WHERE id = $1`, id).Scan(&deleted))
	assert.False(t, deleted, "the confirmation page deletes nothing")
	res = b.post(path+"/delete", url.Values{dashboard.CSRFField: {token(t, confirm, path+"/delete")}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, "/app/webhooks?deleted=1", res.Header.Get("Location"))
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT deleted_at IS NOT NULL FROM webhook_endpoints WHERE id = $1`, id).Scan(&deleted))
	assert.True(t, deleted)
	after := b.get("/app/webhooks?deleted=1")
	assert.Contains(t, after.Body, "The endpoint was deleted")
	assert.NotContains(t, after.Body, path)
	assert.Equal(t, http.StatusNotFound, b.get(path).StatusCode)
}

// waitDelivered follows the delivery page until its status is want, and returns the page.
func (b *visitor) waitFor(path, want string) page {
	b.t.Helper()
	var p page
	require.Eventually(b.t, func() bool {
		p = b.get(path)
		return strings.Contains(p.Body, `id="delivery-status">`+want+`<`)
	}, 15*time.Second, 50*time.Millisecond, "the delivery never became %s", want)
	return p
}

func TestATestEventIsDeliveredAndCanBeRedelivered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Test Event Co")
	hook := newHookReceiver(t, http.StatusOK)
	id, _ := b.createEndpoint(hook.srv.URL+"/hooks", "test", "order.completed")
	path := "/app/webhooks/" + id

	res := b.postOn(path, path+"/test", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	m := deliveryPath.FindStringSubmatch(res.Header.Get("Location"))
	require.NotNil(t, m, res.Header.Get("Location"))
	delivery := res.Header.Get("Location")
	shown := b.waitFor(delivery, "delivered")
	assert.Contains(t, shown.Body, "<code>webhook.test</code>")
	assert.Contains(t, shown.Body, "The test event was queued")
	ids, sigs := hook.got()
	require.Len(t, ids, 1, "the receiver got the test event")
	assert.Contains(t, shown.Body, "webhook-id: "+ids[0], "the page shows the webhook-id the receiver got")
	assert.True(t, strings.HasPrefix(sigs[0], "v1,"), sigs[0])
	assert.Regexp(t, `<tr><td>1</td><td>[^<]+</td><td>200</td><td>\d+ ms</td><td><code>received</code></td></tr>`, shown.Body)
	list := b.get(path)
	assert.Contains(t, list.Body, `href="`+path+`/deliveries/`+m[1]+`"`, "the endpoint's page lists the delivery")

	plain := strings.TrimSuffix(delivery, "?sent=1")
	res = b.postOn(plain, plain+"/redeliver", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, plain, res.Header.Get("Location"))
	require.Eventually(t, func() bool { ids, _ := hook.got(); return len(ids) == 2 }, 15*time.Second, 50*time.Millisecond)
	ids, _ = hook.got()
	assert.Equal(t, ids[0], ids[1], "a redelivery keeps the webhook-id")
	require.Eventually(t, func() bool { return strings.Contains(b.get(plain).Body, "<tr><td>2</td>") }, 15*time.Second, 50*time.Millisecond,
		"the page shows the second attempt")

	// A pending delivery cannot be redelivered: 409 on its page.
	redeliver := token(t, b.get(plain), plain+"/redeliver")
	_, err := e.Pool.Exec(t.Context(), `UPDATE webhook_deliveries SET status = 'pending' WHERE id = $1`, m[1])
	require.NoError(t, err)
	res = b.post(plain+"/redeliver", url.Values{dashboard.CSRFField: {redeliver}})
	assert.Equal(t, http.StatusConflict, res.StatusCode, res.Body)
	assert.Contains(t, res.Body, "still pending")

	// Another endpoint's path does not reach this delivery.
	other, _ := b.createEndpoint(hook.srv.URL+"/other", "test", "order.completed")
	assert.Equal(t, http.StatusNotFound, b.get("/app/webhooks/"+other+"/deliveries/"+m[1]).StatusCode)
}

func TestRotatingTheSecretShowsTheOverlap(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Rotate Co")
	hook := newHookReceiver(t, http.StatusOK)
	id, created := b.createEndpoint(hook.srv.URL+"/hooks", "test", "order.completed")
	first := html.UnescapeString(secretText.FindStringSubmatch(created.Body)[1])
	path := "/app/webhooks/" + id

	bad := b.postOn(path, path+"/rotate-secret", url.Values{"overlap": {"9999h"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode, bad.Body)
	var secret string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT secret FROM webhook_endpoints WHERE id = $1`, id).Scan(&secret))
	assert.Equal(t, first, secret, "a refused rotation changes nothing")

	res := b.postOn(path, path+"/rotate-secret", url.Values{"overlap": {"72h"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	var previous string
	var until time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT secret, previous_secret, previous_expires_at FROM webhook_endpoints WHERE id = $1`, id).
		Scan(&secret, &previous, &until))
	assert.Equal(t, first, previous)
	assert.WithinDuration(t, time.Now().Add(72*time.Hour), until, time.Minute)
	shown := secretText.FindStringSubmatch(res.Body)
	require.NotNil(t, shown, res.Body)
	assert.Equal(t, secret, html.UnescapeString(shown[1]), "the new secret is shown once")
	assert.NotContains(t, html.UnescapeString(res.Body), first, "the old secret is never shown")
	when := until.UTC().Format("2006-01-02 15:04:05 UTC")
	assert.Contains(t, res.Body, "The old secret is still accepted until <strong>"+when+"</strong>")

	later := b.get(path)
	assert.NotContains(t, html.UnescapeString(later.Body), secret)
	assert.Contains(t, later.Body, "the previous secret is still accepted until <strong>"+when+"</strong>", "the overlap stays on the page")
}

func TestADisabledEndpointIsAnnouncedAndItsFailuresRedelivered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Gone Co")
	hook := newHookReceiver(t, http.StatusGone)
	id, _ := b.createEndpoint(hook.srv.URL+"/hooks", "test", "order.completed")
	path := "/app/webhooks/" + id
	res := b.postOn(path, path+"/test", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	failed := b.waitFor(res.Header.Get("Location"), "failed")
	assert.Contains(t, failed.Body, "<td>410</td>")

	// The 410 made Steller disable the endpoint: both pages say so.
	list := b.get("/app/webhooks")
	assert.Contains(t, list.Body, `id="disabled-endpoints"`)
	assert.Contains(t, list.Body, "the endpoint answered 410 Gone")
	assert.Contains(t, list.Body, `href="`+path+`"`)
	home := b.get("/app")
	assert.Contains(t, home.Body, `id="disabled-endpoints"`)
	assert.Contains(t, home.Body, "disabled by Steller")

	// Fixed, enabled again, and the failures since before the test event sent again.
	hook.status.Store(http.StatusOK)
	require.Equal(t, http.StatusSeeOther, b.postOn(path, path+"/enable", nil).StatusCode)
	assert.NotContains(t, b.get("/app/webhooks").Body, `id="disabled-endpoints"`, "enabling clears the alert")
	assert.NotContains(t, b.get("/app").Body, `id="disabled-endpoints"`)

	action := path + "/redeliver-failed"
	for _, tc := range []struct{ since, message string }{
		{"", "enter a date and time"},
		{"yesterday", "enter a date and time"},
		{"2025-13-01T10:00", "enter a date and time"},
		{time.Now().UTC().Add(2 * time.Hour).Format("2006-01-02T15:04"), "must not be in the future"},
	} {
		bad := b.postOn(path, action, url.Values{"since": {tc.since}})
		require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode, tc.since)
		assert.Contains(t, bad.Body, tc.message, tc.since)
		assert.Contains(t, bad.Body, `name="since" type="datetime-local" step="1" value="`+tc.since+`"`, "what was typed is kept")
		assert.Regexp(t, `id="f-since"[^>]*aria-invalid="true"`, bad.Body)
	}
	ids, _ := hook.got()
	require.Len(t, ids, 1, "no refused form sent anything")

	// The failure is made two hours old, so that a time before and one after it differ by
	// more than the input's precision: since an hour ago there is nothing to send again.
	_, err := e.Pool.Exec(t.Context(), `UPDATE webhook_deliveries SET created_at = created_at - interval '2 hours' WHERE endpoint_id = $1`, id)
	require.NoError(t, err)
	res = b.postOn(path, action, url.Values{"since": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05")}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, path+"?requeued=0#deliveries", res.Header.Get("Location"))
	res = b.postOn(path, action, url.Values{"since": {time.Now().UTC().Add(-3 * time.Hour).Format("2006-01-02T15:04")}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, path+"?requeued=1#deliveries", res.Header.Get("Location"))
	assert.Contains(t, b.get(path+"?requeued=1").Body, "1 failed delivery was queued again.")
	require.Eventually(t, func() bool { ids, _ := hook.got(); return len(ids) == 2 }, 15*time.Second, 50*time.Millisecond)
	ids, _ = hook.got()
	assert.Equal(t, ids[0], ids[1], "the same event was sent again")
}

func TestWebhookPostsWithoutAValidCSRFTokenChangeNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Guarded Hooks Co")
	hook := newHookReceiver(t, http.StatusOK)
	id, _ := b.createEndpoint(hook.srv.URL+"/hooks", "test", "order.completed")
	path := "/app/webhooks/" + id
	otherToken := token(t, b.get(path), path+"/test") // a real token, of another form

	snapshot := func() string {
		var s string
		require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT concat_ws('|', count(*), string_agg(url || enabled::text || secret ||
coalesce(previous_secret, '') || (deleted_at IS NULL)::text || array_to_string(event_types, ','), ';'))
FROM webhook_endpoints`).Scan(&s))
		return s
	}
	before, deliveries := snapshot(), e.Count("webhook_deliveries")
	forms := map[string]url.Values{
		"/app/webhooks":            {"url": {hook.srv.URL + "/new"}, "environment": {"test"}, "event_types": {"order.completed"}},
		path:                       {"url": {hook.srv.URL + "/changed"}, "event_types": {"order.failed"}},
		path + "/disable":          nil,
		path + "/delete":           nil,
		path + "/rotate-secret":    {"overlap": {"24h"}},
		path + "/redeliver-failed": {"since": {"2020-01-01T00:00"}},
	}
	for action, form := range forms {
		for name, tok := range map[string]string{"no token": "", "another form's token": otherToken} {
			v := url.Values{}
			for k, vs := range form {
				v[k] = vs
			}
			if tok != "" {
				v.Set(dashboard.CSRFField, tok)
			}
			res := b.post(action, v)
			assert.Equal(t, http.StatusForbidden, res.StatusCode, "%s with %s", action, name)
		}
	}
	res := b.post(path+"/test", url.Values{dashboard.CSRFField: {otherToken}}, "Sec-Fetch-Site", "cross-site")
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a cross-site post with a token")
	res = b.post(path+"/test", nil)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, before, snapshot(), "no endpoint changed")
	assert.Equal(t, deliveries, e.Count("webhook_deliveries"), "no test event sent")
}

func TestWebhookPagesFollowTheRoles(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("Roles Hooks Co")
	owner := e.visitor(t)
	owner.sessionCookie(p.Token)
	hook := newHookReceiver(t, http.StatusOK)
	id, _ := owner.createEndpoint(hook.srv.URL+"/hooks", "test", "order.completed")
	path := "/app/webhooks/" + id

	// A developer manages webhooks like the owner.
	dev := e.visitor(t)
	dev.sessionCookie(e.AddMember(p.WorkspaceID, auth.RoleDeveloper).Token)
	assert.Equal(t, http.StatusOK, dev.get(path).StatusCode)
	res := dev.postOn(path, path+"/disable", nil)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)

	// Finance holds no webhooks.manage (rbac): no link, and every page and action is refused.
	fin := e.visitor(t)
	fin.sessionCookie(e.AddMember(p.WorkspaceID, auth.RoleFinance).Token)
	home := fin.get("/app")
	require.Equal(t, http.StatusOK, home.StatusCode)
	assert.NotContains(t, home.Body, `href="/app/webhooks"`)
	for _, get := range []string{"/app/webhooks", path, path + "/delete"} {
		res := fin.get(get)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, get)
		assert.NotContains(t, res.Body, hook.srv.URL, "%s shows no endpoint", get)
	}
	endpoints, deliveries := e.Count("webhook_endpoints"), e.Count("webhook_deliveries")
	for _, action := range []string{"/app/webhooks", path, path + "/enable", path + "/delete", path + "/test", path + "/rotate-secret", path + "/redeliver-failed"} {
		res := fin.post(action, url.Values{dashboard.CSRFField: {token(t, home, "/logout")}, "url": {hook.srv.URL},
			"environment": {"test"}, "event_types": {"order.completed"}, "overlap": {"0s"}, "since": {"2020-01-01T00:00"}})
		assert.Equal(t, http.StatusForbidden, res.StatusCode, action)
		assert.NotContains(t, res.Body, "This form has expired", "%s is refused for the role, before the form is read", action)
	}
	assert.Equal(t, endpoints, e.Count("webhook_endpoints"))
	assert.Equal(t, deliveries, e.Count("webhook_deliveries"))
	var enabled bool
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT enabled FROM webhook_endpoints WHERE id = $1`, id).Scan(&enabled))
	assert.False(t, enabled, "Finance did not enable what the developer disabled")

	// Another partner's member does not see the endpoint.
	stranger := e.visitor(t)
	stranger.sessionCookie(e.Signup("Other Co").Token)
	assert.Equal(t, http.StatusNotFound, stranger.get(path).StatusCode)
}
