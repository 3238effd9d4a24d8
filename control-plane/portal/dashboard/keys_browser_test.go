package dashboard_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/internal/browser"
)

// A partner in real Chromium opens the keys page from the top bar, creates a key with
// roles and allowed addresses by typing and clicking, sees its secret once with the Copy
// button portal.js adds, finds it listed by its prefix (never its secret), and walks the
// roll and revoke confirmations. Every page is kept at 1280 and 375 px (app-keys-*).
func TestAPartnerCreatesAKeyInChromium(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.Signup("Chromium Keys")
	page := browser.Open(t, e.srv.URL)
	signIn(page, p.OwnerEmail)

	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/keys"]`)), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	page.Do(chromedp.Click(chromedp.CSS("#new-key")), chromedp.WaitVisible(chromedp.CSS("#create-key")))
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Checkout service"),
		chromedp.Click(chromedp.CSS(`input[name="roles"][value="balance:read"]`)), // off: the sandbox's defaults are on
		chromedp.SendKeys(chromedp.CSS("#f-allowed_cidrs"), "203.0.113.0/24\n2001:db8::/48"),
	)
	shots(t, page, "keys-new")
	page.Do(chromedp.Click(chromedp.CSS("#create-key")), chromedp.WaitVisible(chromedp.CSS("#secret")))
	secret := browser.Get(page, chromedp.Text(chromedp.CSS("#secret")))
	parsed, err := keyformat.Parse(secret)
	require.NoError(t, err, "the page shows the whole key: %q", secret)
	assert.Equal(t, "Copy", browser.Get(page, chromedp.Text(chromedp.CSS(".secret .copy"))), "portal.js adds a Copy button")
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS(".notice.warn"))), "shown only this once")
	shots(t, page, "keys-secret")

	page.Do(chromedp.Click(chromedp.CSS("#done")), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	first := browser.Get(page, chromedp.Text(chromedp.CSS("table.keys tbody tr:first-child")))
	assert.Contains(t, first, "Checkout service")
	assert.Contains(t, first, parsed.Display+"…")
	assert.Contains(t, first, "203.0.113.0/24, 2001:db8::/48")
	assert.Contains(t, first, "catalog:read, orders:read, orders:write")
	assert.NotContains(t, first, "balance:read")
	html := browser.Get(page, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	assert.NotContains(t, html, secret, "the list never shows the secret")
	shots(t, page, "keys")

	page.Do(chromedp.Click(chromedp.CSS("table.keys tbody tr:first-child .key-actions a[href$='/roll']")), chromedp.WaitVisible(chromedp.CSS("#roll-key")))
	shots(t, page, "keys-roll")
	page.Do(chromedp.SendKeys(chromedp.CSS("#f-grace_period"), "3 days"),
		chromedp.Click(chromedp.CSS("#roll-key")), chromedp.WaitVisible(chromedp.CSS("#grace-until")))
	rolled := browser.Get(page, chromedp.Text(chromedp.CSS("#secret")))
	require.NotEqual(t, secret, rolled)
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS("#old-key"))), "keeps working until")
	shots(t, page, "keys-rolled")

	page.Do(chromedp.Click(chromedp.CSS("#done")), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	page.Do(chromedp.Click(chromedp.CSS("table.keys tbody tr:first-child .key-actions a[href$='/revoke']")), chromedp.WaitVisible(chromedp.CSS("#revoke-key")))
	shots(t, page, "keys-revoke")
	page.Do(chromedp.Click(chromedp.CSS("#revoke-key")), chromedp.WaitVisible(chromedp.CSS("#revoked-notice")))
	assert.True(t, strings.Contains(browser.Get(page, chromedp.Text(chromedp.CSS("table.keys tbody tr:first-child .state"))), "revoked"))
	shots(t, page, "keys-revoked")

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")
	require.Empty(t, page.Foreign(), "requests to other origins")
}
