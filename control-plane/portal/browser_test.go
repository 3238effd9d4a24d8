package portal_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/browser"
)

// In real Chromium the public pages render with their stylesheet and script under the
// strict CSP, with no console error, no exception, no CSP violation and no request to
// another origin; the search works by submitting its form. Screenshots are kept in
// $STELLER_SCREENSHOT_DIR when set.
func TestThePublicPagesInChromium(t *testing.T) {
	srv := serve(t)
	page := browser.Open(t, srv.URL)

	page.Visit("/")
	assert.Equal(t, "Gift cards for your platform, through one API", browser.Get(page, chromedp.Text(chromedp.CSS("h1"))))
	assert.Equal(t, "/signup", browser.Get(page, chromedp.AttributeValue(chromedp.CSS(".hero .cta"), "href")).Value, "the call to action signs up")
	assert.Equal(t, "rgb(51, 71, 201)", browser.Get(page,
		chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".hero .cta")).backgroundColor`)), "the stylesheet applied (--brand)")
	page.Screenshot("portal-landing")

	page.Visit("/docs/quickstart")
	assert.Positive(t, browser.Get(page, chromedp.Evaluate[int](`document.querySelectorAll("pre > button.copy").length`)),
		"the portal's script ran and added copy buttons")
	page.Screenshot("portal-quickstart")

	page.Visit("/docs")
	page.Do(
		chromedp.SendKeys(chromedp.CSS("#q"), "magic values\n"),
		chromedp.WaitVisible(chromedp.CSS("ol.results")),
	)
	assert.Equal(t, "/docs/sandbox#magic-values", browser.Get(page, chromedp.AttributeValue(chromedp.CSS("ol.results li a"), "href")).Value)
	page.Screenshot("portal-search")

	// axe-core on every public page: the landing page, the docs index, a search and every
	// guide.
	paths := []string{"/", "/docs", "/docs/search?q=webhook"}
	files, err := filepath.Glob("guides/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		paths = append(paths, "/docs/"+strings.TrimSuffix(filepath.Base(f), ".md"))
	}
	for _, path := range paths {
		page.Visit(path)
		assert.Empty(t, page.Accessibility(), "%s: axe-core's serious and critical violations", path)
	}

	// A phone's width: the same pages fit it, nothing wider than the screen but code blocks
	// (which scroll on their own).
	page.Do(chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/", "/docs/quickstart", "/docs/authentication"} {
		page.Visit(path)
		assert.LessOrEqual(t, browser.Get(page, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)), 390,
			"%s is wider than a phone's screen", path)
		page.Screenshot("portal-narrow" + strings.ReplaceAll(path, "/", "-"))
	}

	require.Empty(t, page.Problems(), "console errors, exceptions or CSP violations")
	require.Empty(t, page.Foreign(), "requests to other origins")
}
