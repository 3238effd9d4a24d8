package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/browser"
)

// A partner in real Chromium adds a webhook endpoint pointed at a receiver on 127.0.0.1,
// sees its secret once, sends a test event and follows it to its delivered attempt, under
// the strict CSP with no console error and no request to another origin. The pages are
// kept as screenshots at 1280 and 375 px.
func TestAPartnerAddsAWebhookEndpointAndSendsATestEventInChromium(t *testing.T) {
	t.Parallel()
	e := setup(t)
	hook := newHookReceiver(t, http.StatusOK)
	email := e.visitor(t).signup("Browser Hooks Co")
	page := browser.Open(t, e.srv.URL)

	signIn(page, email)
	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/webhooks"]`)), chromedp.WaitVisible(chromedp.CSS("#create-endpoint")))
	page.Do(chromedp.SendKeys(chromedp.CSS("#f-url"), hook.srv.URL+"/hooks"),
		chromedp.Click(chromedp.CSS(`input[name="event_types"][value="order.created"]`)))
	shots(t, page, "webhooks")
	page.Do(chromedp.Click(chromedp.CSS("#create-endpoint")), chromedp.WaitVisible(chromedp.CSS("#secret-value")))
	secret := browser.Get(page, chromedp.Text(chromedp.CSS("#secret-value")))
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	var stored string
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT secret FROM webhook_endpoints WHERE url = $1`, hook.srv.URL+"/hooks").Scan(&stored))
	assert.Equal(t, stored, secret, "the secret shown is the endpoint's")
	assert.Equal(t, 1, browser.Get(page, chromedp.Evaluate[int](`document.querySelectorAll("#secret button.copy").length`)),
		"the secret has a copy button, as code blocks do")
	shots(t, page, "webhook-created")

	page.Do(chromedp.Click(chromedp.CSS("#send-test")), chromedp.WaitVisible(chromedp.CSS("#delivery-status")))
	deadline := time.Now().Add(15 * time.Second)
	for browser.Get(page, chromedp.Text(chromedp.CSS("#delivery-status"))) != "delivered" {
		require.True(t, time.Now().Before(deadline), "the test event was never delivered")
		href := browser.Get(page, chromedp.AttributeValue(chromedp.CSS("#refresh"), "href")).Value
		page.Visit(href) // by address: a click would leave the same page visible while the next loads
	}
	ids, _ := hook.got()
	require.Len(t, ids, 1, "the receiver got the test event")
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS(".app p.muted"))), ids[0], "the page names the webhook-id received")
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS("#attempts tbody"))), "200")
	shots(t, page, "webhook-delivery")

	page.Do(chromedp.Click(chromedp.CSS(`a[href^="/app/webhooks/whe_"]`)), chromedp.WaitVisible(chromedp.CSS("#rotate")))
	assert.NotContains(t, browser.Get(page, chromedp.Text(chromedp.CSS("main"))), secret, "the secret is not shown again")
	shots(t, page, "webhook-endpoint")

	page.Do(chromedp.SendKeys(chromedp.CSS("#f-overlap"), "3 days"), chromedp.Click(chromedp.CSS("#rotate")),
		chromedp.WaitVisible(chromedp.CSS("#overlap")))
	rotated := browser.Get(page, chromedp.Text(chromedp.CSS("#secret-value")))
	assert.NotEqual(t, secret, rotated)
	var until time.Time
	require.NoError(t, e.Pool.QueryRow(t.Context(), `SELECT previous_expires_at FROM webhook_endpoints WHERE url = $1`, hook.srv.URL+"/hooks").Scan(&until))
	assert.WithinDuration(t, time.Now().Add(72*time.Hour), until, time.Minute)
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS("#overlap"))), until.UTC().Format("2006-01-02 15:04:05 UTC"))
	shots(t, page, "webhook-rotated")

	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/webhooks"]`)), chromedp.WaitVisible(chromedp.CSS(".endpoints")))
	shots(t, page, "webhooks-list")

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")
	require.Empty(t, page.Foreign(), "requests to other origins")
}
