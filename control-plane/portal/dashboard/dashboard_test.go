package dashboard_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/control-plane/portal/dashboard"
)

func TestSignupStartsASessionAndShowsTheChecklist(t *testing.T) {
	t.Parallel()
	e := setup(t) // CookieSecure off, as in steller dev
	b := e.visitor(t)
	form := b.get("/signup?ref=FRIEND-42")
	require.Equal(t, http.StatusOK, form.StatusCode)
	assert.Equal(t, portal.CSP, form.Header.Get("Content-Security-Policy"))
	assert.NotContains(t, form.Body, "<script>", "no inline script")
	assert.Contains(t, form.Body, `name="referral_code" type="text" autocomplete="off" value="FRIEND-42"`, "the referral code comes from ?ref=")
	pre := cookie(form.Response, dashboard.CSRFCookie)
	require.NotNil(t, pre, "the form mints the pre-session cookie its token is bound to")
	assert.True(t, pre.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, pre.SameSite)

	email := "ada-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@Example.COM"
	res := b.post("/signup", url.Values{dashboard.CSRFField: {token(t, form, "/signup")}, "company": {"Ada Books"},
		"name": {"Ada Owner"}, "email": {email}, "password": {apitest.Password}, "referral_code": {"FRIEND-42"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, "/app", res.Header.Get("Location"))
	sess := cookie(res.Response, account.CookieName)
	require.NotNil(t, sess, "the API's session cookie is set")
	assert.True(t, sess.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	assert.False(t, sess.Secure, "--cookie-secure=false leaves Secure off")
	var ref string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT p.signup_referral_code FROM partners p JOIN workspaces w ON w.partner_id = p.id
JOIN memberships m ON m.workspace_id = w.id JOIN users u ON u.id = m.user_id WHERE u.email = $1`, email).Scan(&ref))
	assert.Equal(t, "FRIEND-42", ref)

	home := b.get("/app")
	require.Equal(t, http.StatusOK, home.StatusCode, home.Body)
	assert.Equal(t, "no-store", home.Header.Get("Cache-Control"))
	assert.Contains(t, home.Body, "Welcome, Ada Owner")
	assert.Regexp(t, `<li class="done">\s*<span class="state" aria-hidden="true">✓</span>\s*<span class="what"><strong>Create your account</strong>`, home.Body)
	assert.Regexp(t, `<li class="current">[^✓]*<strong>Create an API key</strong>`, home.Body, "the first step not done is the next")
	assert.Contains(t, home.Body, `id="next-step" href="/app/keys"`, "the next step links its portal page")
	assert.Contains(t, home.Body, `href="/app/console"`, "an owner sees the console")
	assert.Contains(t, home.Body, `action="/logout"`)

	// Signed in, the forms send the browser to its dashboard.
	again := b.get("/login")
	assert.Equal(t, http.StatusSeeOther, again.StatusCode)
	assert.Equal(t, "/app", again.Header.Get("Location"))
}

func TestTheSessionCookieIsSecureByDefault(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *api.Config) { c.CookieSecure = true })
	b := e.visitor(t)
	form := b.get("/signup")
	assert.True(t, cookie(form.Response, dashboard.CSRFCookie).Secure)
	// The jar keeps Secure cookies off plain HTTP, as browsers do: send it by hand.
	res := b.post("/signup", url.Values{dashboard.CSRFField: {token(t, form, "/signup")}, "company": {"Secure Co"},
		"name": {"Sam"}, "email": {"sam-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com"}, "password": {apitest.Password}},
		"Cookie", dashboard.CSRFCookie+"="+cookie(form.Response, dashboard.CSRFCookie).Value)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	sess := cookie(res.Response, account.CookieName)
	require.NotNil(t, sess)
	assert.True(t, sess.Secure)
	assert.True(t, sess.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, sess.SameSite)
}

func TestSignupErrorsRerenderTheFormWithWhatWasTyped(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	taken := b.signup("Taken Co")
	b = e.visitor(t) // a fresh browser, signed out
	form := b.get("/signup")
	tok := token(t, form, "/signup")
	partners := e.Count("partners")
	cases := []struct {
		name           string
		company, email string
		password       string
		field, message string
	}{
		{"weak password", "Weak Co", "weak@example.com", "short", "password", "at least 12 characters"},
		{"bad e-mail", "Mail Co", "not-an-address", apitest.Password, "email", "must be a plain e-mail address"},
		{"blank company", "  ", "blank@example.com", apitest.Password, "company", "company must not be blank"},
		{"control character", "Tab\tCo", "tab@example.com", apitest.Password, "company", "must not contain control characters"},
		{"NUL byte", "Nul\x00Co", "nul@example.com", apitest.Password, "company", "must be text"},
		{"too long", strings.Repeat("x", 201), "long@example.com", apitest.Password, "company", "at most 200 characters"},
		{"taken e-mail", "Again Co", taken, apitest.Password, "", "already exists: sign in instead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := b.post("/signup", url.Values{dashboard.CSRFField: {tok}, "company": {tc.company}, "name": {"Ada"},
				"email": {tc.email}, "password": {tc.password}})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.Body)
			body := html.UnescapeString(res.Body)
			assert.Contains(t, body, tc.message)
			if tc.field != "" {
				assert.Regexp(t, `id="f-`+tc.field+`"[^>]*aria-invalid="true"`, res.Body, "the message is at its field")
			}
			assert.Contains(t, body, `value="`+tc.email+`"`, "the e-mail typed is kept")
			assert.Contains(t, res.Body, `name="name" type="text" autocomplete="name" value="Ada"`, "the name typed is kept")
			assert.NotContains(t, res.Body, apitest.Password, "the password is never sent back")
			assert.Equal(t, tok, token(t, page{Body: res.Body}, "/signup"), "the re-rendered form can be sent again")
		})
	}
	assert.Equal(t, partners, e.Count("partners"), "no signup went through")
}

func TestSignupIsRateLimitedLikeTheAPI(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *api.Config) { c.SignupLimit = api.RateLimit{Requests: 1, Per: time.Hour} })
	b := e.visitor(t)
	b.signup("First Co")
	b = e.visitor(t)
	form := b.get("/signup")
	res := b.post("/signup", url.Values{dashboard.CSRFField: {token(t, form, "/signup")}, "company": {"Second Co"},
		"name": {"Bo"}, "email": {"bo@example.com"}, "password": {apitest.Password}})
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Positive(t, wait)
	assert.Contains(t, res.Body, "Too many signups from your address")
	assert.Contains(t, res.Body, `value="Second Co"`)
	// The API shares the budget: its signup from the same address is refused too.
	api, err := http.Post(e.srv.URL+"/v1/public/signup", "application/json", strings.NewReader(
		`{"company":"Third","name":"Cy","email":"cy@example.com","password":"`+apitest.Password+`"}`))
	require.NoError(t, err)
	api.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, api.StatusCode)
}

func TestLoginLogoutAndTheNextPage(t *testing.T) {
	t.Parallel()
	e := setup(t)
	email := e.visitor(t).signup("Login Co")

	b := e.visitor(t)
	res := b.get("/app/console?from=menu")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "signed out, a page sends the browser to sign in")
	assert.Equal(t, "/login?next="+url.QueryEscape("/app/console?from=menu"), res.Header.Get("Location"))

	form := b.get(res.Header.Get("Location"))
	require.Equal(t, http.StatusOK, form.StatusCode)
	assert.Contains(t, form.Body, `name="next" value="/app/console?from=menu"`)
	tok := token(t, form, "/login")

	wrong := b.post("/login", url.Values{dashboard.CSRFField: {tok}, "email": {email}, "password": {"not-the-password-1"},
		"next": {"/app/console?from=menu"}})
	require.Equal(t, http.StatusUnprocessableEntity, wrong.StatusCode)
	assert.Contains(t, wrong.Body, "The e-mail address or password is wrong"[1:])
	assert.Contains(t, wrong.Body, `value="`+email+`"`)
	assert.NotContains(t, wrong.Body, "not-the-password-1")
	assert.Nil(t, cookie(wrong.Response, account.CookieName))

	ok := b.post("/login", url.Values{dashboard.CSRFField: {tok}, "email": {email}, "password": {apitest.Password},
		"next": {"/app/console?from=menu"}})
	require.Equal(t, http.StatusSeeOther, ok.StatusCode, ok.Body)
	assert.Equal(t, "/app/console?from=menu", ok.Header.Get("Location"))
	require.NotNil(t, cookie(ok.Response, account.CookieName))

	home := b.get("/app")
	require.Equal(t, http.StatusOK, home.StatusCode)
	out := b.post("/logout", url.Values{dashboard.CSRFField: {token(t, home, "/logout")}})
	require.Equal(t, http.StatusSeeOther, out.StatusCode, out.Body)
	assert.Equal(t, "/", out.Header.Get("Location"))
	cleared := cookie(out.Response, account.CookieName)
	require.NotNil(t, cleared)
	assert.Negative(t, cleared.MaxAge, "the cookie is cleared")
	assert.Equal(t, http.StatusSeeOther, b.get("/app").StatusCode, "signed out")
	var revoked bool
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT revoked_at IS NOT NULL FROM sessions WHERE token_hash = $1`,
		account.HashToken(cookie(ok.Response, account.CookieName).Value)).Scan(&revoked))
	assert.True(t, revoked, "the session is revoked in the database, not only forgotten by the browser")
}

func TestNextMustBeAPathOnThisSite(t *testing.T) {
	t.Parallel()
	e := setup(t)
	email := e.visitor(t).signup("Next Co")
	for _, next := range []string{"//evil.example/app", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "app"} {
		b := e.visitor(t)
		form := b.get("/login?next=" + url.QueryEscape(next))
		assert.NotContains(t, form.Body, `name="next"`, next)
		res := b.post("/login", url.Values{dashboard.CSRFField: {token(t, form, "/login")}, "email": {email},
			"password": {apitest.Password}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, next)
		assert.Equal(t, "/app", res.Header.Get("Location"), next)
	}
}

func TestPostsWithoutAValidCSRFTokenChangeNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	owner := e.visitor(t)
	owner.signup("Guarded Co")
	home := owner.get("/app")
	logoutToken := token(t, home, "/logout")
	consoleToken := token(t, owner.get("/app/console"), "/app/console")

	stranger := e.visitor(t)
	strangerForm := stranger.get("/signup")
	partners, keys := e.Count("partners"), e.Count("api_keys")
	signup := url.Values{"company": {"Forged Co"}, "name": {"Eve"}, "email": {"eve@example.com"}, "password": {apitest.Password}}
	with := func(v url.Values, tok string) url.Values {
		out := url.Values{dashboard.CSRFField: {tok}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	cases := []struct {
		name string
		send func() page
	}{
		{"signup without a token", func() page { return e.visitor(t).post("/signup", signup) }},
		{"signup with another browser's token", func() page {
			fresh := e.visitor(t)
			fresh.get("/signup")
			return fresh.post("/signup", with(signup, token(t, strangerForm, "/signup")))
		}},
		{"signup with the login form's token", func() page {
			return stranger.post("/signup", with(signup, token(t, stranger.get("/login"), "/login")))
		}},
		{"signup from another site, even with a token", func() page {
			return stranger.post("/signup", with(signup, token(t, strangerForm, "/signup")), "Sec-Fetch-Site", "cross-site")
		}},
		{"logout without a token", func() page { return owner.post("/logout", nil) }},
		{"logout with the console's token", func() page { return owner.post("/logout", with(nil, consoleToken)) }},
		{"logout from another origin", func() page {
			return owner.post("/logout", with(nil, logoutToken), "Origin", "https://evil.example")
		}},
		{"console without a token", func() page {
			return owner.post("/app/console", url.Values{"product_id": {"sbx_amazing_books"}, "amount": {"25"}})
		}},
	}
	for _, tc := range cases {
		res := tc.send()
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "%s: %s", tc.name, res.Body)
		assert.Nil(t, cookie(res.Response, account.CookieName), tc.name)
	}
	assert.Equal(t, partners, e.Count("partners"), "no forged signup")
	assert.Equal(t, keys, e.Count("api_keys"), "no console key minted")
	assert.Equal(t, http.StatusOK, owner.get("/app").StatusCode, "the owner is still signed in")
}

func TestAFinanceMemberSeesNeitherTheConsoleNorLogs(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("Money Co")
	fin := e.AddMember(p.WorkspaceID, auth.RoleFinance)
	b := e.visitor(t)
	b.sessionCookie(fin.Token)
	home := b.get("/app")
	require.Equal(t, http.StatusOK, home.StatusCode, home.Body)
	assert.NotContains(t, home.Body, `href="/app/console"`)
	assert.NotContains(t, home.Body, "/v1/logs")
	form := b.get("/app/console")
	assert.Equal(t, http.StatusForbidden, form.StatusCode)
	assert.NotContains(t, form.Body, `action="/app/console"`)
	keys := e.Count("api_keys")
	res := b.post("/app/console", url.Values{dashboard.CSRFField: {token(t, home, "/logout")}, "product_id": {"sbx_amazing_books"}, "amount": {"25"}})
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, http.StatusForbidden, b.get("/app/console/webhooks?request_id=req_1").StatusCode)
	assert.Equal(t, keys, e.Count("api_keys"))

	admin := e.visitor(t)
	admin.sessionCookie(e.AdminSession())
	assert.Equal(t, http.StatusForbidden, admin.get("/app").StatusCode, "platform admins have no partner dashboard")
}

var requestIDText = regexp.MustCompile(`<code id="request-id">([^<]+)</code>`)

func TestTheConsolePlacesATestOrderAndShowsItsWebhook(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	email := b.signup("Console Co")
	form := b.get("/app/console")
	require.Equal(t, http.StatusOK, form.StatusCode, form.Body)
	tok := token(t, form, "/app/console")

	for _, bad := range []struct{ product, amount, message string }{
		{"sbx_nope", "25", "choose one of the sandbox"},
		{"sbx_amazing_books", "25.001", "enter an amount in dollars"},
		{"sbx_amazing_books", "0", "between $0.01"},
		{"sbx_amazing_books", "2\x005", "enter an amount in dollars"},
	} {
		res := b.post("/app/console", url.Values{dashboard.CSRFField: {tok}, "product_id": {bad.product}, "amount": {bad.amount}})
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, bad)
		assert.Contains(t, html.UnescapeString(res.Body), bad.message, bad)
	}

	// No endpoint yet: the order goes through, and the page says how to get its webhook.
	res := b.post("/app/console", url.Values{dashboard.CSRFField: {tok}, "product_id": {"sbx_coffee_cloud"}, "amount": {"10.00"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	body := html.UnescapeString(res.Body)
	assert.Contains(t, body, "curl -s -X POST "+e.edge.URL+"/v1/orders")
	assert.Contains(t, body, `-d '{"product_id":"sbx_coffee_cloud","amount_cents":1000}'`)
	assert.Contains(t, res.Body, `<span class="status s201">201</span>`)
	assert.Regexp(t, `Order <code id="order-id">ord_[^<]+</code> is <strong id="order-status">pending</strong>`, res.Body)
	m := requestIDText.FindStringSubmatch(res.Body)
	require.NotNil(t, m, res.Body)
	assert.Contains(t, res.Body, "GET /v1/logs/"+m[1], "an owner is shown the request in the log explorer's API")
	assert.Contains(t, res.Body, "no enabled test webhook endpoint")
	assert.NotContains(t, body, "sk_test_fake", "no key secret is shown")

	// With an endpoint, the order's completion reaches it, and the page shows the delivery
	// with its attempt and the signature headers the receiver got.
	e.addEndpoint(t, email)
	res = b.post("/app/console", url.Values{dashboard.CSRFField: {tok}, "product_id": {"sbx_amazing_books"}, "amount": {"25"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	requestID := requestIDText.FindStringSubmatch(res.Body)[1]
	var panel page
	ok := assert.Eventually(t, func() bool {
		panel = b.get("/app/console/webhooks?request_id=" + url.QueryEscape(requestID))
		return strings.Contains(panel.Body, `<span class="dstatus delivered">delivered</span>`)
	}, 15*time.Second, 100*time.Millisecond, "the order.completed delivery shows up delivered")
	if !ok {
		var states []string
		rows, err := e.Pool.Query(t.Context(), `SELECT status FROM sandbox_orders UNION ALL SELECT 'delivery:' || status || ':' || last_error FROM webhook_deliveries`)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			states = append(states, s)
		}
		t.Fatalf("orders and deliveries: %v; the page:\n%s", states, panel.Body)
	}
	require.Equal(t, http.StatusOK, panel.StatusCode)
	assert.Contains(t, panel.Body, "<code>order.completed</code>")
	// The first order may have completed after the endpoint was added: find this one's.
	var got []http.Header
	for _, h := range e.receiver.headers() {
		if strings.Contains(panel.Body, "webhook-id: "+h.Get("webhook-id")+"\n") {
			got = append(got, h)
		}
	}
	require.Len(t, got, 1, "the page shows the webhook-id the endpoint received")
	assert.Contains(t, panel.Body, `<code class="ts">`+got[0].Get("webhook-timestamp")+`</code>`, "the attempt's webhook-timestamp")
	assert.Contains(t, panel.Body, "<td>200</td>")

	assert.Equal(t, http.StatusBadRequest, b.get("/app/console/webhooks?request_id=%3Cscript%3E").StatusCode)
}
