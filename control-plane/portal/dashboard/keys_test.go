package dashboard_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/portal/dashboard"
)

// keySecretText finds the secret on a new or rolled key's page.
var keySecretText = regexp.MustCompile(`<code id="secret">([^<]+)</code>`)

// anySecret is any whole key, as keyformat spells it.
var anySecret = regexp.MustCompile(`sk_(test|live)_[0-9A-Za-z]{20,}`)

// keyID finds a key's id by its name in the list.
func keyID(t *testing.T, list page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<tr id="(key_[^"]+)" class="key [a-z]+">\s*<td data-label="Name"><strong>` + regexp.QuoteMeta(name) + `</strong>`).FindStringSubmatch(list.Body)
	require.NotNil(t, m, "no key %q in the list:\n%s", name, list.Body)
	return m[1]
}

// newKey creates a key through the form and returns its secret and the page.
func (b *visitor) newKey(form url.Values) (string, page) {
	b.t.Helper()
	newForm := b.get("/app/keys/new")
	require.Equal(b.t, http.StatusOK, newForm.StatusCode, newForm.Body)
	form.Set(dashboard.CSRFField, token(b.t, newForm, "/app/keys"))
	res := b.post("/app/keys", form)
	require.Equal(b.t, http.StatusOK, res.StatusCode, res.Body)
	m := keySecretText.FindStringSubmatch(res.Body)
	require.NotNil(b.t, m, res.Body)
	return m[1], res
}

// stampHTML is how the list shows t.
func stampHTML(t time.Time) string {
	u := t.UTC()
	return `<time datetime="` + u.Format(time.RFC3339) + `"><span class="nw">` + u.Format(time.DateOnly) +
		`</span> <span class="nw">` + u.Format("15:04:05 UTC") + `</span></time>`
}

// keyState is a key's stored status, grace end and successor.
func (e *env) keyState(t *testing.T, id string) (status string, graceUntil *time.Time, rolledTo *string) {
	t.Helper()
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT status, grace_until, rolled_to FROM api_keys WHERE id = $1`, id).
		Scan(&status, &graceUntil, &rolledTo))
	return status, graceUntil, rolledTo
}

func TestTheKeysPageListsTheWorkspacesKeysWithoutSecrets(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("List Co")
	b := e.visitor(t)

	signedOut := b.get("/app/keys")
	require.Equal(t, http.StatusSeeOther, signedOut.StatusCode)
	assert.Equal(t, "/login?next=%2Fapp%2Fkeys", signedOut.Header.Get("Location"))

	b.sessionCookie(p.Token)
	home := b.get("/app")
	assert.Contains(t, home.Body, `<a href="/app/keys">Keys</a>`, "the top bar links the keys page")
	assert.Contains(t, home.Body, `id="next-step" href="/app/keys"`, "the checklist's next step is this page")

	// A key made by the service the API uses, with every setting, and used at the edge.
	keys, err := apikey.New(apikey.Config{Pool: e.Pool, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second)
	made, err := keys.Create(t.Context(), auth.Principal{Kind: auth.KindUser, ID: p.OwnerID, PartnerID: p.PartnerID,
		WorkspaceID: p.WorkspaceID, Role: auth.RoleOwner}, apikey.Settings{Name: "Warehouse <sync>", Environment: keyformat.Test,
		Roles: []string{"orders:read", "catalog:read"}, AllowedCIDRs: []string{"192.0.2.0/24", "2001:db8::1"}, ExpiresAt: &expires})
	require.NoError(t, err)
	used := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	_, err = e.Pool.Exec(t.Context(), `UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, made.Key.ID, used)
	require.NoError(t, err)

	list := b.get("/app/keys")
	require.Equal(t, http.StatusOK, list.StatusCode, list.Body)
	assert.Equal(t, "no-store", list.Header.Get("Cache-Control"))
	id := keyID(t, list, "Warehouse &lt;sync&gt;")
	require.Equal(t, made.Key.ID, id)
	assert.Less(t, strings.Index(list.Body, id), strings.Index(list.Body, keyID(t, list, "Sandbox key")), "newest first")
	row := list.Body[strings.Index(list.Body, `<tr id="`+id):]
	row = row[:strings.Index(row, "</tr>")]
	assert.Contains(t, row, `<span class="env test">test</span>`)
	assert.Contains(t, row, `<code class="prefix">`+made.Key.DisplayPrefix+`…</code>`, "the display prefix")
	assert.Equal(t, keyformat.DisplayPrefix(made.Secret), made.Key.DisplayPrefix)
	assert.Contains(t, row, `<td data-label="Roles"><code>catalog:read</code>, <code>orders:read</code></td>`)
	assert.Contains(t, row, `<td data-label="Allowed IPs" class="cidrs"><code>192.0.2.0/24</code>, <code>2001:db8::1/128</code></td>`)
	assert.Contains(t, row, `<td data-label="Expires">`+stampHTML(expires)+`</td>`)
	assert.Contains(t, row, `<td data-label="Last used">`+stampHTML(used)+`</td>`)
	assert.Contains(t, row, `<td data-label="State" class="state">active</td>`)
	assert.Contains(t, row, `href="/app/keys/`+id+`/roll"`)
	assert.Contains(t, row, `href="/app/keys/`+id+`/revoke"`)
	assert.Contains(t, list.Body, `href="/app/keys/new"`)
	assert.NotContains(t, list.Body, made.Secret)
	assert.NotContains(t, list.Body, p.KeySecret)
	assert.NotRegexp(t, anySecret, list.Body, "no whole key on the list")

	bad := b.get("/app/keys?cursor=not-a-cursor")
	assert.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode, "a cursor the service did not make")
}

func TestCreatingAKeyShowsItsSecretOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Create Co")
	expires := time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)
	secret, res := b.newKey(url.Values{"name": {"Billing service"}, "environment": {"test"},
		"roles": {"orders:write", "catalog:read"}, "allowed_cidrs": {"10.0.0.0/8, 2001:db8::/32\n203.0.113.7\r\n"},
		"expires_on": {expires}})
	parsed, err := keyformat.Parse(secret)
	require.NoError(t, err, "the page shows a whole, valid key")
	assert.Equal(t, keyformat.Test, parsed.Environment)
	assert.Contains(t, res.Body, "It is shown only this once")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.Regexp(t, `<pre class="code secret"[^>]*><code id="secret">`, res.Body, "a code block: portal.js adds its Copy button")

	var name, env string
	var roles, cidrs []string
	var exp time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT name, environment, roles, allowed_cidrs, expires_at FROM api_keys WHERE hash = $1`,
		parsed.Hash[:]).Scan(&name, &env, &roles, &cidrs, &exp))
	assert.Equal(t, "Billing service", name)
	assert.Equal(t, "test", env)
	assert.Equal(t, []string{"catalog:read", "orders:write"}, roles)
	assert.Equal(t, []string{"10.0.0.0/8", "2001:db8::/32", "203.0.113.7/32"}, cidrs)
	assert.Equal(t, expires, exp.UTC().Format(time.DateOnly))
	assert.True(t, exp.Equal(exp.Truncate(24*time.Hour)), "at 00:00 UTC")

	for range 2 {
		list := b.get("/app/keys")
		require.Equal(t, http.StatusOK, list.StatusCode)
		id := keyID(t, list, "Billing service")
		row := list.Body[strings.Index(list.Body, `<tr id="`+id):]
		row = row[:strings.Index(row, "</tr>")]
		assert.Contains(t, row, "<code>10.0.0.0/8</code>, <code>2001:db8::/32</code>, <code>203.0.113.7/32</code>")
		assert.Contains(t, row, `<code class="prefix">`+secret[:len("sk_test_")+4]+`…</code>`)
		assert.Contains(t, row, `<td data-label="Expires"><time datetime="`+expires+`T00:00:00Z">`)
		assert.NotContains(t, list.Body, secret, "the list never shows the secret")
		assert.NotRegexp(t, anySecret, list.Body)
	}
}

func TestALiveKeyNeedsLiveApproval(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("Live Co")
	b := e.visitor(t)
	b.sessionCookie(p.Token)
	form := b.get("/app/keys/new")
	assert.NotContains(t, form.Body, `value="live"`, "no live choice before approval")
	keys := e.Count("api_keys")
	res := b.post("/app/keys", url.Values{dashboard.CSRFField: {token(t, form, "/app/keys")}, "name": {"Live"},
		"environment": {"live"}, "roles": {"*"}})
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Contains(t, res.Body, "live keys need the partner to be approved")
	assert.Equal(t, keys, e.Count("api_keys"))

	_, err := e.Pool.Exec(t.Context(), `UPDATE partners SET live_approved_at = now() WHERE id = $1`, p.PartnerID)
	require.NoError(t, err)
	assert.Contains(t, b.get("/app/keys/new").Body, `value="live"`)
	secret, _ := b.newKey(url.Values{"name": {"Live"}, "environment": {"live"}, "roles": {"*"}})
	assert.True(t, strings.HasPrefix(secret, "sk_live_"), secret)
	assert.Contains(t, b.get("/app/keys").Body, `<span class="env live">live</span>`)
}

func TestBadKeyInputRerendersTheFormWithFieldErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Typo Co")
	form := b.get("/app/keys/new")
	tok := token(t, form, "/app/keys")
	keys := e.Count("api_keys")
	past := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	cases := []struct {
		name, keyName, cidrs, expires string
		roles                         []string
		field, message                string
	}{
		{"bad CIDR", "Edge", "10.0.0.0/8\n10.0.0.300", "", []string{"orders:read"}, "allowed_cidrs", `"10.0.0.300" is not an IPv4/IPv6 address or CIDR prefix`},
		{"prefix too long", "Edge", "192.0.2.0/33", "", []string{"orders:read"}, "allowed_cidrs", `"192.0.2.0/33"`},
		{"no role", "Edge", "", "", nil, "roles", "a key needs at least one role"},
		{"unknown role", "Edge", "", "", []string{"admin:all"}, "roles", `unknown role "admin:all"`},
		{"blank name", "   ", "", "", []string{"orders:read"}, "name", "name must be 1 to 200 characters"},
		{"control character", "Tab\tkey", "", "", []string{"orders:read"}, "name", "must not contain control characters"},
		{"NUL byte", "Nul\x00key", "", "", []string{"orders:read"}, "name", "must be text"},
		{"not a date", "Edge", "", "next week", []string{"orders:read"}, "expires_on", "enter a date as YYYY-MM-DD"},
		{"past date", "Edge", "", past, []string{"orders:read"}, "expires_on", "expires_at must be in the future"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := b.post("/app/keys", url.Values{dashboard.CSRFField: {tok}, "name": {tc.keyName}, "environment": {"test"},
				"roles": tc.roles, "allowed_cidrs": {tc.cidrs}, "expires_on": {tc.expires}})
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, res.Body)
			body := html.UnescapeString(res.Body)
			assert.Contains(t, body, tc.message)
			assert.Regexp(t, `<p class="field-error" id="f-`+tc.field+`-error">`, res.Body, "the message is at its field")
			assert.Contains(t, body, ">"+tc.cidrs+"</textarea>", "the addresses typed are kept")
			if tc.name != "NUL byte" {
				assert.Contains(t, body, `name="name" type="text" autocomplete="off" value="`+tc.keyName+`"`, "the name typed is kept")
			}
			for _, role := range tc.roles {
				if apikey.KnownRole(role) {
					assert.Contains(t, body, `value="`+role+`" checked`, "the roles chosen are kept")
				}
			}
			assert.Equal(t, tok, token(t, page{Body: res.Body}, "/app/keys"), "the form can be sent again")
		})
	}
	assert.Equal(t, keys, e.Count("api_keys"), "no key was created")
}

func TestRollingAKeyShowsTheNewSecretAndWhenTheOldStops(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Roll Co")
	old, _ := b.newKey(url.Values{"name": {"Rolling"}, "roles": {"orders:read"}, "allowed_cidrs": {"198.51.100.0/24"}})
	id := keyID(t, b.get("/app/keys"), "Rolling")

	form := b.get("/app/keys/" + id + "/roll")
	require.Equal(t, http.StatusOK, form.StatusCode, form.Body)
	assert.Contains(t, form.Body, `<option value="24h" selected>`, "the API's default grace period")
	tok := token(t, form, "/app/keys/"+id+"/roll")

	bad := b.post("/app/keys/"+id+"/roll", url.Values{dashboard.CSRFField: {tok}, "grace_period": {"400h"}})
	require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode, bad.Body)
	assert.Contains(t, bad.Body, `id="f-grace_period-error">grace_period must be between 0s and 168h0m0s`)
	status, grace, _ := e.keyState(t, id)
	assert.Equal(t, "active", status)
	assert.Nil(t, grace, "a refused roll changes nothing")

	before := time.Now()
	res := b.post("/app/keys/"+id+"/roll", url.Values{dashboard.CSRFField: {tok}, "grace_period": {"72h"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	m := keySecretText.FindStringSubmatch(res.Body)
	require.NotNil(t, m, res.Body)
	fresh := m[1]
	require.NotEqual(t, old, fresh)
	_, err := keyformat.Parse(fresh)
	require.NoError(t, err)
	assert.Contains(t, res.Body, "It is shown only this once")
	_, grace, rolledTo := e.keyState(t, id)
	require.NotNil(t, grace)
	require.NotNil(t, rolledTo)
	assert.WithinRange(t, *grace, before.Add(72*time.Hour-time.Second), time.Now().Add(72*time.Hour+time.Second))
	assert.Contains(t, res.Body, `<strong id="grace-until">`+grace.UTC().Format("2006-01-02 15:04:05 UTC")+`</strong>`,
		"the page says when the old key stops working")
	newStatus, _, _ := e.keyState(t, *rolledTo)
	assert.Equal(t, "active", newStatus)
	assert.Contains(t, res.Body, "<code>198.51.100.0/24</code>", "the new key keeps the old one's settings")

	list := b.get("/app/keys")
	assert.NotContains(t, list.Body, fresh)
	assert.NotContains(t, list.Body, old)
	row := list.Body[strings.Index(list.Body, `<tr id="`+id):]
	row = row[:strings.Index(row, "</tr>")]
	assert.Contains(t, row, "rolled: works until "+stampHTML(*grace))
	assert.NotContains(t, row, "/roll", "a rolled key cannot be rolled again")
	assert.Contains(t, row, "/revoke", "but can be revoked before its grace ends")

	again := b.post("/app/keys/"+id+"/roll", url.Values{dashboard.CSRFField: {tok}, "grace_period": {"0s"}})
	assert.Equal(t, http.StatusConflict, again.StatusCode)
	assert.Contains(t, again.Body, "the key was already rolled to "+*rolledTo)

	// A roll with no grace stops the old key at once.
	newTok := token(t, b.get("/app/keys/"+*rolledTo+"/roll"), "/app/keys/"+*rolledTo+"/roll")
	now := b.post("/app/keys/"+*rolledTo+"/roll", url.Values{dashboard.CSRFField: {newTok}, "grace_period": {"0s"}})
	require.Equal(t, http.StatusOK, now.StatusCode, now.Body)
	assert.Contains(t, now.Body, "has stopped working")
}

func TestRevokingAKeyGoesThroughItsConfirmation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Revoke Co")
	secret, _ := b.newKey(url.Values{"name": {"Doomed"}, "roles": {"orders:read"}})
	id := keyID(t, b.get("/app/keys"), "Doomed")

	confirm := b.get("/app/keys/" + id + "/revoke")
	require.Equal(t, http.StatusOK, confirm.StatusCode, confirm.Body)
	assert.Contains(t, confirm.Body, "Revoke key Doomed?")
	status, _, _ := e.keyState(t, id)
	assert.Equal(t, "active", status, "the confirmation page changes nothing")

	res := b.post("/app/keys/"+id+"/revoke", url.Values{dashboard.CSRFField: {token(t, confirm, "/app/keys/"+id+"/revoke")}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	assert.Equal(t, "/app/keys?revoked="+id, res.Header.Get("Location"))
	status, _, _ = e.keyState(t, id)
	assert.Equal(t, "revoked", status)

	list := b.get(res.Header.Get("Location"))
	assert.Contains(t, list.Body, `id="revoked-notice">Key <code>`+secret[:len("sk_test_")+4]+`…</code> is revoked`)
	row := list.Body[strings.Index(list.Body, `<tr id="`+id):]
	row = row[:strings.Index(row, "</tr>")]
	assert.Regexp(t, `<td data-label="State" class="state">revoked <time datetime="\d{4}-`, row)
	assert.NotContains(t, row, "/roll")
	assert.NotContains(t, row, "/revoke")

	// Another workspace's key is not found, and is left alone even with a valid token
	// (the CSRF scheme of the package doc, computed here since no page of the other
	// workspace offers the form).
	otherWS := e.Signup("Other Co")
	other := e.visitor(t)
	other.sessionCookie(otherWS.Token)
	assert.Equal(t, http.StatusNotFound, other.get("/app/keys/"+id+"/revoke").StatusCode)
	sandbox := keyID(t, b.get("/app/keys"), "Sandbox key")
	mac := hmac.New(sha256.New, []byte(otherWS.Token))
	mac.Write([]byte("steller-csrf-v1|/app/keys/" + sandbox + "/revoke"))
	forged := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	assert.Equal(t, http.StatusNotFound, other.post("/app/keys/"+sandbox+"/revoke", url.Values{dashboard.CSRFField: {forged}}).StatusCode)
	status, _, _ = e.keyState(t, sandbox)
	assert.Equal(t, "active", status)
	assert.Equal(t, http.StatusNotFound, b.get("/app/keys/%3Cscript%3E/revoke").StatusCode)
}

func TestKeyPostsWithoutAValidCSRFTokenChangeNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	b := e.visitor(t)
	b.signup("Forgery Co")
	list := b.get("/app/keys")
	id := keyID(t, list, "Sandbox key")
	createTok := token(t, b.get("/app/keys/new"), "/app/keys")
	rollTok := token(t, b.get("/app/keys/"+id+"/roll"), "/app/keys/"+id+"/roll")
	revokeTok := token(t, b.get("/app/keys/"+id+"/revoke"), "/app/keys/"+id+"/revoke")
	create := url.Values{"name": {"Forged"}, "roles": {"*"}}
	with := func(v url.Values, tok string) url.Values {
		out := url.Values{dashboard.CSRFField: {tok}}
		for k, vs := range v {
			out[k] = vs
		}
		return out
	}
	keys := e.Count("api_keys")
	cases := []struct {
		name string
		send func() page
	}{
		{"create without a token", func() page { return b.post("/app/keys", create) }},
		{"create with the revoke form's token", func() page { return b.post("/app/keys", with(create, revokeTok)) }},
		{"create from another origin", func() page {
			return b.post("/app/keys", with(create, createTok), "Origin", "https://evil.example")
		}},
		{"roll without a token", func() page { return b.post("/app/keys/"+id+"/roll", url.Values{"grace_period": {"0s"}}) }},
		{"roll with the revoke form's token", func() page {
			return b.post("/app/keys/"+id+"/roll", with(url.Values{"grace_period": {"0s"}}, revokeTok))
		}},
		{"revoke without a token", func() page { return b.post("/app/keys/"+id+"/revoke", nil) }},
		{"revoke with the roll form's token", func() page { return b.post("/app/keys/"+id+"/revoke", with(nil, rollTok)) }},
		{"revoke from another site", func() page {
			return b.post("/app/keys/"+id+"/revoke", with(nil, revokeTok), "Sec-Fetch-Site", "cross-site")
		}},
		{"revoke with another member's token", func() page {
			other := e.visitor(t)
			other.signup("Other Forgery Co")
			otherID := keyID(t, other.get("/app/keys"), "Sandbox key")
			stolen := token(t, other.get("/app/keys/"+otherID+"/revoke"), "/app/keys/"+otherID+"/revoke")
			keys++ // the other signup's sandbox key
			return b.post("/app/keys/"+id+"/revoke", with(nil, stolen))
		}},
	}
	for _, tc := range cases {
		res := tc.send()
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "%s: %s", tc.name, res.Body)
		assert.NotRegexp(t, anySecret, res.Body, tc.name)
	}
	assert.Equal(t, keys, e.Count("api_keys"), "no key created or rolled")
	status, grace, _ := e.keyState(t, id)
	assert.Equal(t, "active", status, "not revoked")
	assert.Nil(t, grace, "not rolled")
}

func TestFinanceSeesKeysWithoutActionsAndDevelopersManageThem(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("Roles Co")
	fin := e.AddMember(p.WorkspaceID, auth.RoleFinance)
	dev := e.AddMember(p.WorkspaceID, auth.RoleDeveloper)

	d := e.visitor(t)
	d.sessionCookie(dev.Token)
	devSecret, _ := d.newKey(url.Values{"name": {"Dev key"}, "roles": {"orders:read"}})
	id := keyID(t, d.get("/app/keys"), "Dev key")
	rollTok := token(t, d.get("/app/keys/"+id+"/roll"), "/app/keys/"+id+"/roll")

	f := e.visitor(t)
	f.sessionCookie(fin.Token)
	home := f.get("/app")
	assert.Contains(t, home.Body, `<a href="/app/keys">Keys</a>`, "Finance may read the keys' metadata")
	assert.NotContains(t, home.Body, `id="next-step" href="/app/keys"`, "the checklist does not send Finance to create a key")
	list := f.get("/app/keys")
	require.Equal(t, http.StatusOK, list.StatusCode, list.Body)
	assert.Equal(t, id, keyID(t, list, "Dev key"))
	keyID(t, list, "Sandbox key")
	assert.Contains(t, list.Body, "Your role can see the workspace's keys but not create, roll or revoke them.")
	assert.NotContains(t, list.Body, `href="/app/keys/new"`)
	assert.NotContains(t, list.Body, "/roll\"")
	assert.NotContains(t, list.Body, "/revoke\"")
	assert.NotContains(t, list.Body, `action="/app/keys`, "no key form")
	assert.NotRegexp(t, anySecret, list.Body, "Finance never sees a secret")

	keys := e.Count("api_keys")
	for _, path := range []string{"/app/keys/new", "/app/keys/" + id + "/roll", "/app/keys/" + id + "/revoke"} {
		res := f.get(path)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, path)
		assert.NotContains(t, res.Body, `action="/app/keys`, path)
	}
	for path, form := range map[string]url.Values{
		"/app/keys":                   {"name": {"Finance key"}, "roles": {"*"}},
		"/app/keys/" + id + "/roll":   {"grace_period": {"0s"}},
		"/app/keys/" + id + "/revoke": {},
	} {
		form.Set(dashboard.CSRFField, token(t, home, "/logout"))
		res := f.post(path, form)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, path)
		assert.NotContains(t, res.Body, "did not come from this site", "%s: refused by the role, before the token is looked at", path)
		assert.NotRegexp(t, anySecret, res.Body, path)
	}
	assert.Equal(t, keys, e.Count("api_keys"))
	status, grace, _ := e.keyState(t, id)
	assert.Equal(t, "active", status)
	assert.Nil(t, grace)

	// The developer rolls and revokes.
	res := d.post("/app/keys/"+id+"/roll", url.Values{dashboard.CSRFField: {rollTok}, "grace_period": {"1h"}})
	require.Equal(t, http.StatusOK, res.StatusCode, res.Body)
	assert.NotContains(t, res.Body, devSecret)
	_, _, rolledTo := e.keyState(t, id)
	require.NotNil(t, rolledTo)
	revokeTok := token(t, d.get("/app/keys/"+*rolledTo+"/revoke"), "/app/keys/"+*rolledTo+"/revoke")
	assert.Equal(t, http.StatusSeeOther, d.post("/app/keys/"+*rolledTo+"/revoke", url.Values{dashboard.CSRFField: {revokeTok}}).StatusCode)
	status, _, _ = e.keyState(t, *rolledTo)
	assert.Equal(t, "revoked", status)
}
