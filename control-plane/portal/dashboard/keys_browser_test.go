package dashboard_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/api/apitest"
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
	shots := func(name string) {
		// At the top: a full-page shot of a scrolled page draws the sticky top bar mid-page.
		browser.Get(page, chromedp.Evaluate[int](`window.scrollTo(0, 0), 0`))
		page.Do(chromedp.EmulateViewport(1280, 900))
		assert.Empty(t, page.Accessibility(), "%s: axe-core's serious and critical violations", name)
		page.Screenshot("app-" + name + "-1280")
		page.Do(chromedp.EmulateViewport(375, 812))
		assert.LessOrEqual(t, browser.Get(page, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), 375,
			"%s is wider than a phone's screen", name)
		page.Screenshot("app-" + name + "-375")
		page.Do(chromedp.EmulateViewport(1280, 900))
	}
	page.Visit("/login")
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-email"), p.OwnerEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), apitest.Password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("ol.checklist")),
	)

	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/keys"]`)), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	page.Do(chromedp.Click(chromedp.CSS("#new-key")), chromedp.WaitVisible(chromedp.CSS("#create-key")))
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Checkout service"),
		chromedp.Click(chromedp.CSS(`input[name="roles"][value="balance:read"]`)), // off: the sandbox's defaults are on
		chromedp.SendKeys(chromedp.CSS("#f-allowed_cidrs"), "203.0.113.0/24\n2001:db8::/48"),
	)
	shots("keys-new")
	page.Do(chromedp.Click(chromedp.CSS("#create-key")), chromedp.WaitVisible(chromedp.CSS("#secret")))
	secret := browser.Get(page, chromedp.Text(chromedp.CSS("#secret")))
	parsed, err := keyformat.Parse(secret)
	require.NoError(t, err, "the page shows the whole key: %q", secret)
	assert.Equal(t, "Copy", browser.Get(page, chromedp.Text(chromedp.CSS(".secret .copy"))), "portal.js adds a Copy button")
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS(".notice.warn"))), "shown only this once")
	shots("keys-secret")

	page.Do(chromedp.Click(chromedp.CSS("#done")), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	first := browser.Get(page, chromedp.Text(chromedp.CSS("table.keys tbody tr:first-child")))
	assert.Contains(t, first, "Checkout service")
	assert.Contains(t, first, parsed.Display+"…")
	assert.Contains(t, first, "203.0.113.0/24, 2001:db8::/48")
	assert.Contains(t, first, "catalog:read, orders:read, orders:write")
	assert.NotContains(t, first, "balance:read")
	html := browser.Get(page, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	assert.NotContains(t, html, secret, "the list never shows the secret")
	shots("keys")

	page.Do(chromedp.Click(chromedp.CSS("table.keys tbody tr:first-child .key-actions a[href$='/roll']")), chromedp.WaitVisible(chromedp.CSS("#roll-key")))
	shots("keys-roll")
	page.Do(chromedp.SendKeys(chromedp.CSS("#f-grace_period"), "3 days"),
		chromedp.Click(chromedp.CSS("#roll-key")), chromedp.WaitVisible(chromedp.CSS("#grace-until")))
	rolled := browser.Get(page, chromedp.Text(chromedp.CSS("#secret")))
	require.NotEqual(t, secret, rolled)
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS("#old-key"))), "keeps working until")
	shots("keys-rolled")

	page.Do(chromedp.Click(chromedp.CSS("#done")), chromedp.WaitVisible(chromedp.CSS("table.keys")))
	page.Do(chromedp.Click(chromedp.CSS("table.keys tbody tr:first-child .key-actions a[href$='/revoke']")), chromedp.WaitVisible(chromedp.CSS("#revoke-key")))
	shots("keys-revoke")
	page.Do(chromedp.Click(chromedp.CSS("#revoke-key")), chromedp.WaitVisible(chromedp.CSS("#revoked-notice")))
	assert.True(t, strings.Contains(browser.Get(page, chromedp.Text(chromedp.CSS("table.keys tbody tr:first-child .state"))), "revoked"))
	shots("keys-revoked")

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")
	require.Empty(t, page.Foreign(), "requests to other origins")
}
