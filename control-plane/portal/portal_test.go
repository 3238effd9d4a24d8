package portal_test

import (
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/liverequest"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/portal"
)

// serve returns a server with the portal's routes and stand-ins for the API reference and
// its downloads (the api package's, tested there, which checks APIDownloads too) and for
// the signup and sign-in pages (the dashboard package's, tested there).
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	p, err := portal.New(portal.Config{Version: "test", EdgeURL: func() string { return "http://127.0.0.1:8000/" }})
	require.NoError(t, err)
	mux := http.NewServeMux()
	p.Register(mux)
	mux.HandleFunc("GET /docs/api", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "reference") })
	for _, path := range []string{"/signup", "/login"} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "form") })
	}
	mux.HandleFunc("GET /openapi/partner.json", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") })
	for _, d := range portal.APIDownloads {
		mux.HandleFunc("GET "+d.Path, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestPagesAreServedWithTheirSecurityHeaders(t *testing.T) {
	srv := serve(t)
	for _, path := range []string{"/", "/docs", "/docs/", "/docs/quickstart", "/docs/search?q=webhook"} {
		resp, body := get(t, srv, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), path)
		assert.Equal(t, portal.CSP, resp.Header.Get("Content-Security-Policy"), path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		assert.Contains(t, body, `<link rel="stylesheet" href="/assets/portal.css?v=test">`, path)
		assert.NotContains(t, body, "<script>", "no inline script (the CSP would block it): %s", path)
		assert.NotRegexp(t, `(src|href)="(https?:)?//`, body, "nothing from another origin: %s", path)
	}
	resp, body := get(t, srv, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Gift cards for your platform")
	assert.Contains(t, body, "curl -s -X POST http://127.0.0.1:8000/v1/orders", "examples name the configured edge")

	resp, body = get(t, srv, "/assets/portal.css")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	assert.Contains(t, body, "--brand")
}

func TestAGuideIsRenderedFromMarkdownWithAnchors(t *testing.T) {
	srv := serve(t)
	_, body := get(t, srv, "/docs/sandbox")
	assert.Contains(t, body, `<h1 id="the-sandbox">The sandbox</h1>`)
	assert.Contains(t, body, `<h2 id="magic-values">Magic values</h2>`)
	assert.Contains(t, body, "<table>", "GitHub tables")
	assert.Contains(t, body, `<a href="/docs/sandbox" aria-current="page">The sandbox</a>`, "the side navigation marks the page")

	resp, body := get(t, srv, "/docs/nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, "Page not found")
}

// Every link of every page reachable from the landing page leads to a page that exists,
// and every #anchor to an id on it.
func TestEveryLinkOfThePortalResolves(t *testing.T) {
	srv := serve(t)
	href := regexp.MustCompile(`href="([^"]+)"`)
	id := regexp.MustCompile(`id="([^"]+)"`)
	pages := map[string]string{}
	queue := []string{"/"}
	var links [][2]string // from, to
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if _, seen := pages[path]; seen {
			continue
		}
		resp, body := get(t, srv, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s (linked from a portal page)", path)
		pages[path] = body
		if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
			continue
		}
		for _, m := range href.FindAllStringSubmatch(body, -1) {
			u, err := url.Parse(m[1])
			require.NoError(t, err)
			if u.Host != "" || u.Scheme != "" {
				continue
			}
			to := u.Path
			if to == "" {
				to = path
			}
			if u.RawQuery != "" {
				to += "?" + u.RawQuery
			}
			links = append(links, [2]string{path, to + "#" + u.Fragment})
			queue = append(queue, to)
		}
	}
	assert.Greater(t, len(pages), 5, "the crawl reached the guides")
	for _, l := range links {
		target, fragment, _ := strings.Cut(l[1], "#")
		if fragment == "" {
			continue
		}
		var ids []string
		for _, m := range id.FindAllStringSubmatch(pages[target], -1) {
			ids = append(ids, m[1])
		}
		assert.Contains(t, ids, fragment, "%s links to %s#%s, which has no such id", l[0], target, fragment)
	}
}

// The guides' navigation and the docs index offer the API reference's downloads.
func TestTheDocsLinkTheAPIDownloads(t *testing.T) {
	srv := serve(t)
	require.Len(t, portal.APIDownloads, 3, "the partner and management documents and the Postman collection")
	_, guide := get(t, srv, "/docs/quickstart")
	_, index := get(t, srv, "/docs")
	for _, d := range portal.APIDownloads {
		assert.Contains(t, guide, `<li class="sub"><a href="`+d.Path+`" download`, d.Path)
		assert.Contains(t, index, `<a href="`+d.Path+`" download>`+html.EscapeString(d.Title)+`</a>`, d.Path)
	}
	assert.Contains(t, index, `<a href="`+portal.LLMsPath+`">llms.txt</a>`)
}

// /llms.txt follows llmstxt.org: the title, a one-paragraph summary, then a link list of
// every guide (every Markdown file of guides/, by its level-1 heading, with the summary
// the docs index shows) and one of the API reference's downloads; every link resolves.
func TestLLMsTxtIndexesEveryGuideAndTheAPIDownloads(t *testing.T) {
	srv := serve(t)
	resp, body := get(t, srv, portal.LLMsPath)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	head, rest, ok := strings.Cut(body, "\n## Docs\n\n")
	require.True(t, ok, "a Docs section: %s", body)
	docs, api, ok := strings.Cut(rest, "\n## API reference\n\n")
	require.True(t, ok, "an API reference section after it: %s", body)
	assert.Regexp(t, `^# Steller\n\n> [^\n]{80,}\n$`, head, "the H1, then a one-paragraph blockquote")

	item := regexp.MustCompile(`(?m)^- \[([^\]]+)\]\((/[^)\s]*)\): (\S.*)$`)
	lines := func(section string) [][]string {
		t.Helper()
		var out [][]string
		for _, line := range strings.Split(strings.TrimRight(section, "\n"), "\n") {
			m := item.FindStringSubmatch(line)
			require.NotNil(t, m, "%q is not a Markdown link item", line)
			out = append(out, m)
		}
		return out
	}
	files, err := fs.Glob(os.DirFS("guides"), "*.md")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	guides := lines(docs)
	assert.Len(t, guides, len(files), "one item per guide file")
	listed := map[string][]string{}
	for _, m := range guides {
		listed[m[2]] = m
	}
	_, index := get(t, srv, "/docs")
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join("guides", f))
		require.NoError(t, err)
		title, _, _ := strings.Cut(strings.TrimPrefix(string(src), "# "), "\n")
		path := "/docs/" + strings.TrimSuffix(f, ".md")
		m, ok := listed[path]
		if !assert.True(t, ok, "%s is not listed", path) {
			continue
		}
		assert.Equal(t, strings.TrimSpace(title), m[1], path)
		assert.Contains(t, index, "<span>"+html.EscapeString(m[3])+"</span>", "%s: the summary the docs index shows", path)
	}

	var downloads []string
	for _, m := range lines(api) {
		downloads = append(downloads, m[2])
	}
	var want []string
	for _, d := range portal.APIDownloads {
		want = append(want, d.Path)
	}
	assert.Equal(t, want, downloads)
	for _, m := range append(guides, lines(api)...) {
		resp, _ := get(t, srv, m[2])
		assert.Equal(t, http.StatusOK, resp.StatusCode, m[2])
	}
}

func TestSearchFindsSectionsAndRefusesBadQueries(t *testing.T) {
	srv := serve(t)
	_, body := get(t, srv, "/docs/search?q=magic+values")
	assert.Contains(t, body, `href="/docs/sandbox#magic-values"`, "the section, by its anchor")
	_, body = get(t, srv, "/docs/search?q=IDEMPOTENT-replayed")
	assert.Contains(t, body, `href="/docs/idempotency#retrying"`, "case-insensitive, punctuation ignored")
	_, body = get(t, srv, "/docs/search?q=zebra+crossing")
	assert.Contains(t, body, "No section of the guides mentions every word")
	_, body = get(t, srv, "/docs/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
	assert.NotContains(t, body, "<script>alert(1)</script>", "the query is escaped")

	resp, body := get(t, srv, "/docs/search?q="+strings.Repeat("a", portal.MaxQueryLen+1))
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, "longer than 200 characters")
	resp, _ = get(t, srv, "/docs/search?q=a%00b")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestSearchRanksHeadingsFirst(t *testing.T) {
	guides := []*portal.Guide{
		{Slug: "a", Title: "Alpha", Sections: []portal.Section{{Heading: "Other", Anchor: "other", Text: "webhooks webhooks webhooks"}}},
		{Slug: "b", Title: "Beta", Sections: []portal.Section{{Heading: "Webhooks", Anchor: "webhooks", Text: "how to receive them"}}},
	}
	got := portal.Search(guides, "webhook")
	require.Len(t, got, 2)
	assert.Equal(t, "b", got[0].Slug, "a heading match outranks repeated words")
	assert.Empty(t, portal.Search(guides, "  ,; "))
}

// Every /docs link the control plane's code hands out (the onboarding's steps, the
// readiness report's checks, the stuck hint) leads to a guide of the portal and, where it
// names one, to an anchor on it.
func TestEveryDocLinkOfTheControlPlaneResolves(t *testing.T) {
	srv := serve(t)
	literal := regexp.MustCompile(`"(/docs/[a-z0-9-]+(?:#[a-z0-9_-]+)?)"`)
	links := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			links[m[1]] = true
		}
		return nil
	})
	require.NoError(t, err)
	for _, check := range []string{liverequest.CheckIdempotency, liverequest.CheckWebhooks, liverequest.CheckAllowlist,
		liverequest.CheckErrorRate, liverequest.CheckRetries} {
		links[liverequest.CheckDoc(check)] = true
	}
	for _, c := range problem.Codes() {
		links[onboarding.ErrorDoc(c.Name)] = true // the stuck hint's link, built from a code
	}
	assert.Contains(t, links, "/docs/quickstart#first-call", "the scan finds the onboarding's links")
	assert.Contains(t, links, "/docs/errors#ip_not_allowed", "the scan finds the stuck hint's example")
	id := regexp.MustCompile(`id="([^"]+)"`)
	for link := range links {
		path, anchor, _ := strings.Cut(link, "#")
		if path == "/docs/api" || path == "/docs/search" {
			continue
		}
		resp, body := get(t, srv, path)
		if !assert.Equal(t, http.StatusOK, resp.StatusCode, "%s is linked from the control plane", link) || anchor == "" {
			continue
		}
		var ids []string
		for _, m := range id.FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
		assert.Contains(t, ids, anchor, "%s is linked from the control plane", link)
	}
}

// The webhooks guide shows every file of its samples folder, in code blocks equal to the
// files byte for byte: the code the webhook tests run (control-plane/webhook/samples_test.go).
func TestTheWebhooksGuideShowsItsTestedSamples(t *testing.T) {
	srv := serve(t)
	resp, body := get(t, srv, "/docs/webhooks")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	block := regexp.MustCompile(`(?s)<pre><code class="language-(\w+)">(.*?)</code></pre>`)
	var shown []string
	for _, m := range block.FindAllStringSubmatch(body, -1) {
		shown = append(shown, html.UnescapeString(m[2]))
	}
	dir := "guides/samples/webhooks"
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 5, "verify.go, verify.py, verify.js, verify.sh and send.sh")
	for _, e := range entries {
		code, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		assert.True(t, slices.Contains(shown, string(code)), "the guide does not show %s as it is", e.Name())
	}
}
