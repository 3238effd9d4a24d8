package dashboard_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/internal/browser"
)

// A new partner in real Chromium: the landing page's call to action, the signup form, the
// dashboard's checklist, the console, and a completed test order with its signed webhook
// delivery, by clicks and typing only, under the strict CSP with no console error and no
// request to another origin. Every page is kept as a screenshot at 1280 and 375 px.
func TestANewPartnerGeneratesATestGiftCardInChromium(t *testing.T) {
	t.Parallel()
	e := setup(t)
	page := browser.Open(t, e.srv.URL)
	shots := func(name string) {
		page.Do(chromedp.EmulateViewport(1280, 900))
		page.Screenshot("app-" + name + "-1280")
		page.Do(chromedp.EmulateViewport(375, 812))
		assert.LessOrEqual(t, browser.Get(page, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), 375,
			"%s is wider than a phone's screen", name)
		page.Screenshot("app-" + name + "-375")
		page.Do(chromedp.EmulateViewport(1280, 900))
	}

	page.Visit("/")
	page.Do(chromedp.Click(chromedp.CSS(".hero .cta")), chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)))
	email := "newcomer-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com"
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-company"), "Newcomer Books"),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Nia Newcomer"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), apitest.Password),
	)
	shots("signup")
	page.Do(chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("ol.checklist")))
	assert.True(t, strings.HasSuffix(browser.Get(page, chromedp.Location()), "/app"))
	assert.Equal(t, "Create your account", browser.Get(page, chromedp.Text(chromedp.CSS(".checklist li.done strong"))))
	assert.Equal(t, "Create an API key", browser.Get(page, chromedp.Text(chromedp.CSS(".checklist li.current strong"))))
	shots("dashboard")

	// The webhooks page is not built yet: the endpoint is added through the service.
	e.addEndpoint(t, email)
	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/console"]`)), chromedp.WaitVisible(chromedp.CSS("#send")))
	// Choose a product as the keyboard does, then retype the amount.
	page.Do(chromedp.SendKeys(chromedp.CSS("#f-product"), "Game Galaxy"))
	require.Equal(t, "sbx_game_galaxy", browser.Get(page, chromedp.Evaluate[string](`document.querySelector("#f-product").value`)))
	page.Do(chromedp.Clear(chromedp.CSS("#f-amount")), chromedp.SendKeys(chromedp.CSS("#f-amount"), "42.50"))
	shots("console")
	page.Do(chromedp.Click(chromedp.CSS("#send")), chromedp.WaitVisible(chromedp.CSS("#result")))
	assert.Equal(t, "pending", browser.Get(page, chromedp.Text(chromedp.CSS("#order-status"))))
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS("#result pre code"))), `"amount_cents":4250`)
	requestID := browser.Get(page, chromedp.Text(chromedp.CSS("#request-id")))
	require.NotEmpty(t, requestID)
	shots("console-result")

	// The order completes within a second; the member checks its webhook by following the
	// page's link (loaded by address: a click would leave the same #webhooks visible while
	// the next page loads).
	deadline := time.Now().Add(15 * time.Second)
	for {
		href, ok := browser.Get(page, chromedp.AttributeValue(chromedp.CSS("#refresh-webhooks"), "href")).Value, true
		require.True(t, ok && strings.HasPrefix(href, "/app/console/webhooks?request_id="), href)
		page.Visit(href)
		if n := browser.Get(page, chromedp.Evaluate[int](`document.querySelectorAll(".dstatus.delivered").length`)); n > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the order.completed delivery never showed up")
	}
	assert.Equal(t, "order.completed", browser.Get(page, chromedp.Text(chromedp.CSS(".delivery h3 code"))))
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS(".delivery pre code"))), "webhook-signature: v1,")
	assert.Contains(t, browser.Get(page, chromedp.Location()), "request_id="+requestID)
	shots("console-webhook")

	page.Do(chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(".hero")))
	page.Visit("/app")
	assert.Contains(t, browser.Get(page, chromedp.Location()), "/login?next=%2Fapp", "signed out")
	shots("login")

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")
	require.Empty(t, page.Foreign(), "requests to other origins")
}
