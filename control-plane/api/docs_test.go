package api

// An internal test: it serves the docs on a bare mux (no database), and swaps the embedded
// assets for a directory without Swagger UI to see the page that replaces it. apitest
// cannot be imported from here (it imports this package); TestWholeAPIOverHTTP drives
// /docs through the whole API.

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantDocs are the documents /docs must offer, in the order of its top-bar selector.
var wantDocs = []docsDocument{
	{Name: "Partner API (gift cards, through the edge)", URL: "/openapi/partner.json"},
	{Name: "Management API", URL: "/openapi/management.json"},
	{Name: "Admin API", URL: "/openapi/admin.json"},
}

// setupDocs serves the docs from assets (the embedded ones when nil) and returns a GET.
func setupDocs(t *testing.T, assets fstest.MapFS) func(path string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	if assets == nil {
		registerDocs(mux)
	} else {
		serveDocs(mux, assets)
	}
	return func(path string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
}

// mediaType is the media type of a Content-Type header, without parameters.
func mediaType(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	require.NoError(t, err, "Content-Type %q", rec.Header().Get("Content-Type"))
	return mt
}

// TestDocsOffersThePartnerManagementAndAdminDocuments: /docs is Swagger UI's standalone
// page whose top bar lists the three documents in order, its scripts served from the
// binary as JavaScript.
func TestDocsOffersThePartnerManagementAndAdminDocuments(t *testing.T) {
	t.Parallel()
	get := setupDocs(t, nil)

	page := get("/docs/api")
	require.Equal(t, http.StatusOK, page.Code,
		"Swagger UI's files are not installed in control-plane/api/docsassets/vendor: run `bash scripts/install.sh web` (make build does), then test again")
	assert.Equal(t, "text/html", mediaType(t, page))
	assert.Contains(t, page.Header().Get("Content-Security-Policy"), "script-src 'self'")
	body := page.Body.String()
	assert.NotContains(t, body, "https://", "the docs load nothing from the internet")

	// The urls option init.js hands to Swagger UI, as the page holds it.
	const open, end = `<script id="docs-urls" type="application/json">`, `</script>`
	start := strings.Index(body, open)
	require.GreaterOrEqual(t, start, 0, "the page has no #docs-urls: %s", body)
	raw, _, found := strings.Cut(body[start+len(open):], end)
	require.True(t, found)
	var urls []docsDocument
	require.NoError(t, json.Unmarshal([]byte(raw), &urls), raw)
	assert.Equal(t, wantDocs, urls, "the documents and their order (the first is shown by default)")
	last := -1
	for _, d := range wantDocs {
		at := strings.Index(body, d.URL)
		assert.Greater(t, at, last, "%s is not listed after the document before it", d.URL)
		last = at
	}

	// The download bar lists the downloads in order, each marked for download.
	var at []int
	for _, path := range Downloads() {
		i := strings.Index(body, `<a href="`+path+`" download>`)
		assert.GreaterOrEqual(t, i, 0, "the page offers %s for download", path)
		at = append(at, i)
	}
	assert.IsIncreasing(t, at, "the downloads in Downloads order")
	assert.Less(t, strings.Index(body, `class="docs-downloads"`), strings.Index(body, `id="swagger-ui"`), "the bar is above Swagger UI")

	for _, c := range []struct{ path, mediaType, has string }{
		{"/docs/assets/swagger-ui-bundle.js", "text/javascript", "SwaggerUIBundle"},
		{"/docs/assets/swagger-ui-standalone-preset.js", "text/javascript", "SwaggerUIStandalonePreset"},
		{"/docs/assets/swagger-ui.css", "text/css", ".swagger-ui"},
		{"/docs/assets/init.js", "text/javascript", `layout: "StandaloneLayout"`},
		{"/docs/assets/docs.css", "text/css", ".docs-downloads"},
		{"/docs/assets/LICENSE", "text/plain", "Apache License"},
	} {
		rec := get(c.path)
		if !assert.Equal(t, http.StatusOK, rec.Code, c.path) {
			continue
		}
		assert.Equal(t, c.mediaType, mediaType(t, rec), c.path)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), c.path)
		assert.Contains(t, rec.Body.String(), c.has, c.path)
	}
	for _, script := range []string{"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "init.js"} {
		assert.Contains(t, body, `<script src="/docs/assets/`+script+`"></script>`)
	}
	for _, sheet := range []string{"swagger-ui.css", "docs.css"} {
		assert.Contains(t, body, `<link rel="stylesheet" href="/docs/assets/`+sheet+`">`)
	}
}

// TestDocsWithoutSwaggerUIIsA503SayingWhatToRun: a binary built before `install.sh web`
// answers /docs with a page saying so (and still linking the documents), not a page whose
// scripts 404.
func TestDocsWithoutSwaggerUIIsA503SayingWhatToRun(t *testing.T) {
	t.Parallel()
	get := setupDocs(t, fstest.MapFS{"init.js": {Data: []byte("// ours")}})

	page := get("/docs/api")
	assert.Equal(t, http.StatusServiceUnavailable, page.Code)
	assert.Equal(t, "text/html", mediaType(t, page))
	assert.Contains(t, page.Header().Get("Content-Security-Policy"), "default-src 'self'")
	body := page.Body.String()
	assert.Contains(t, body, "Swagger UI is not installed")
	assert.Contains(t, body, "<code>bash scripts/install.sh web</code>")
	assert.Contains(t, body, "swagger-ui-bundle.js")
	assert.NotContains(t, body, "<script", "no page that loads scripts which are not there")
	for _, d := range wantDocs {
		assert.Contains(t, body, `<a href="`+d.URL+`">`)
	}
	for _, path := range Downloads() {
		assert.Contains(t, body, `<a href="`+path+`" download>`)
	}
	assert.Equal(t, http.StatusNotFound, get("/docs/assets/swagger-ui-bundle.js").Code)
	assert.Equal(t, http.StatusOK, get("/docs/assets/init.js").Code)
}
