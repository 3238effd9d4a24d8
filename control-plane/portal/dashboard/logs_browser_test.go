package dashboard_test

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/internal/browser"
)

// A partner in real Chromium follows the console's "Open in logs" to the request's page
// and its delivered webhook, then filters the log explorer with the form, pages older and
// newer, and lands on an address that names only the filters set. Both pages are kept as
// screenshots at 1280 and 375 px (app-logs-*, app-log-request-*).
func TestTheLogExplorerInChromium(t *testing.T) {
	t.Parallel()
	e := setup(t)
	page := browser.Open(t, e.srv.URL)
	rows := func() []string {
		return browser.Get(page, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#logs a.rid")).map(a => a.textContent)`))
	}

	email := "logs-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "@example.com"
	page.Visit("/signup")
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-company"), "Explorer Books"),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Eli Explorer"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), apitest.Password),
		chromedp.Click(chromedp.CSS(`form[action="/signup"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("ol.checklist")),
	)
	e.addEndpoint(t, email)
	p := e.principal(t, email)
	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/console"]`)), chromedp.WaitVisible(chromedp.CSS("#send")),
		chromedp.Click(chromedp.CSS("#send")), chromedp.WaitVisible(chromedp.CSS("#open-in-logs")))
	requestID := browser.Get(page, chromedp.Text(chromedp.CSS("#request-id")))
	require.NotEmpty(t, requestID)

	// The edge's request logs reach ClickHouse through the ingest; here the test writes
	// the console's request and some earlier traffic.
	now := time.Now()
	seeded := []logquery.Row{logRow(p, requestID, now, func(r *logquery.Row) {
		r.Method, r.Path, r.Route, r.Status, r.KeyID = "POST", "/v1/orders", "orders.create", 201, "key_console_1"
		r.ClientRequestID, r.UserAgent = "console-order-1", "steller-console/1"
	})}
	for i := 1; i <= 5; i++ {
		seeded = append(seeded, logRow(p, fmt.Sprintf("req_earlier_%d", i), now.Add(-time.Duration(i)*time.Minute), func(r *logquery.Row) {
			if i%2 == 0 {
				r.Status, r.Decision, r.DenialCode, r.KeyID = 401, "deny", "invalid_key", ""
			} else {
				r.Method, r.Path, r.Route, r.Status = "POST", "/v1/orders", "orders.create", 201
			}
		}))
	}
	e.insertLogs(t, seeded...)

	page.Do(chromedp.Click(chromedp.CSS("#open-in-logs")), chromedp.WaitVisible(chromedp.CSS("#log-fields")))
	assert.Equal(t, requestID, browser.Get(page, chromedp.Text(chromedp.CSS("#log-request-id"))))
	assert.True(t, strings.HasSuffix(browser.Get(page, chromedp.Location()), "/app/logs/"+requestID))
	deadline := time.Now().Add(15 * time.Second)
	for browser.Get(page, chromedp.Evaluate[int](`document.querySelectorAll("#webhooks .dstatus.delivered").length`)) == 0 {
		require.True(t, time.Now().Before(deadline), "the order.completed delivery never showed up")
		href := browser.Get(page, chromedp.AttributeValue(chromedp.CSS("#refresh-webhooks"), "href"))
		page.Visit(href.Value)
	}
	assert.Equal(t, "order.completed", browser.Get(page, chromedp.Text(chromedp.CSS(".delivery h3 code"))))
	shots(t, page, "log-request")

	// The explorer through the top bar, filtered with the form.
	page.Do(chromedp.Click(chromedp.CSS(`.app-links a[href="/app/logs"]`)), chromedp.WaitVisible(chromedp.CSS("#logs")))
	assert.Len(t, rows(), 6)
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#f-status"), "2xx"),
		chromedp.SendKeys(chromedp.CSS("#f-method"), "post"),
		chromedp.SendKeys(chromedp.CSS("#f-limit"), "2"),
		chromedp.Click(chromedp.CSS("#apply-filters")),
		chromedp.WaitVisible(chromedp.CSS("#older")),
	)
	loc, err := url.Parse(browser.Get(page, chromedp.Location()))
	require.NoError(t, err)
	assert.Equal(t, url.Values{"status": {"2xx"}, "method": {"POST"}, "limit": {"2"}}, loc.Query(), "the address names only the filters set")
	assert.Equal(t, []string{requestID, "req_earlier_1"}, rows())
	shots(t, page, "logs")

	page.Do(chromedp.Click(chromedp.CSS("#older")), chromedp.WaitVisible(chromedp.CSS("#newer")))
	assert.Equal(t, []string{"req_earlier_3", "req_earlier_5"}, rows())
	page.Do(chromedp.Click(chromedp.CSS("#newer")), chromedp.WaitNotPresent(chromedp.CSS("#newer")))
	assert.Equal(t, []string{requestID, "req_earlier_1"}, rows())

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")

	// A bad filter stays in the form, with its message at the field.
	page.Do(chromedp.Clear(chromedp.CSS("#f-status")), chromedp.SendKeys(chromedp.CSS("#f-status"), "600"),
		chromedp.Click(chromedp.CSS("#apply-filters")), chromedp.WaitVisible(chromedp.CSS("#f-status-error")))
	assert.Contains(t, browser.Get(page, chromedp.Text(chromedp.CSS("#f-status-error"))), "must be a status code")
	shots(t, page, "logs-invalid")
	for _, problem := range page.Problems() {
		assert.Contains(t, problem, "status of 422", "the 422 page's own status is the only problem")
	}
	require.Empty(t, page.Foreign(), "requests to other origins")
}
