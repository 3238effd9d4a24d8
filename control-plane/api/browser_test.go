package api_test

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/internal/browser"
)

// TestTheAPIReferenceInChromium: in real Chromium, /docs/api renders the partner API first
// and, chosen by the top bar's address (urls.primaryName), the management API, each with its
// operations, under the page's CSP with no console error, no CSP violation and nothing from
// another origin; the download bar links every download. The portal is mounted beside the
// API as in the control plane. Screenshots are kept in
// $STELLER_SCREENSHOT_DIR when set.
func TestTheAPIReferenceInChromium(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	// The portal beside the API, as the control plane mounts it (it answers /favicon.ico).
	site, err := portal.New(portal.Config{Version: "test", EdgeURL: func() string { return "" }})
	require.NoError(t, err)
	site.Register(env.API.Mux())
	srv := httptest.NewServer(env.API.Handler())
	t.Cleanup(srv.Close)
	page := browser.Open(t, srv.URL)

	title := chromedp.CSS(".swagger-ui .info .title")
	for _, c := range []struct{ query, title, operation, shot string }{
		{"", "Steller partner API", "/v1/orders/{id}", "api-reference-partner"},
		{"?urls.primaryName=" + url.QueryEscape("Management API"), "Steller management API", "/v1/me", "api-reference-management"},
	} {
		page.Do(chromedp.Navigate(srv.URL+"/docs/api"+c.query), chromedp.WaitVisible(title), chromedp.WaitVisible(chromedp.CSS(".opblock")))
		assert.Contains(t, browser.Get(page, chromedp.Text(title)), c.title)
		paths := browser.Get(page, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll(".opblock-summary-path")].map(e => e.getAttribute("data-path"))`))
		assert.Contains(t, paths, c.operation, c.title)
		page.Screenshot(c.shot)
	}
	links := browser.Get(page, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll(".docs-downloads a[download]")].map(a => a.getAttribute("href"))`))
	assert.Equal(t, api.Downloads(), links)

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")
	require.Empty(t, page.Foreign(), "requests to other origins")
}
