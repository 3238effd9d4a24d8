package dashboard_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/internal/browser"
)

// shots checks the page as it is now and keeps it: axe-core finds no serious or critical
// violation, it fits a 375 px phone, and its screenshots at 1280 and 375 px are kept as
// app-<name>-<width>.png. It scrolls to the top first (a full-page shot of a scrolled page
// draws the sticky top bar mid-page) and leaves the viewport at 1280 px.
func shots(t *testing.T, page *browser.Page, name string) {
	t.Helper()
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

// signIn signs email in through the login form and waits for the dashboard.
func signIn(page *browser.Page, email string) {
	page.Visit("/login")
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), apitest.Password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("ol.checklist")),
	)
}
