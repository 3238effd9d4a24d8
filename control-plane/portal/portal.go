// Package portal owns Steller's developer portal: the server-rendered pages the control
// plane serves to browsers (the landing page, the Markdown guides under /docs with their
// search, /llms.txt indexing them for AI assistants, and the portal's stylesheet and
// script), embedded in the binary and rendered with html/template. Pages work without JavaScript; nothing is loaded from another origin.
package portal

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// CSP is the pages' Content-Security-Policy: everything from this origin only, no inline
// script or style, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Layout parses the pages' shared layout (the templates "head", "foot" and "account", the
// top bar's sign-in links) afresh, for other packages' pages to be rendered in the portal's
// style: they add their own templates to it, and may redefine "account". Their data must
// have the fields the layout reads: Title, Description, Version, Section and Query.
func Layout() (*template.Template, error) {
	t, err := template.ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("portal: layout: %w", err)
	}
	return t, nil
}

// MaxQueryLen bounds a search query, in characters.
const MaxQueryLen = 200

// Config configures the Portal.
type Config struct {
	// Version is the build's version, shown in the footer and used to bust asset caches.
	Version string
	// EdgeURL is the edge partners call (the gateway's URL), shown in examples (required).
	EdgeURL func() string
	// Logger records rendering failures; default discards.
	Logger *slog.Logger
}

// Portal renders and serves the portal's pages.
type Portal struct {
	cfg    Config
	pages  *template.Template
	guides []*Guide
	bySlug map[string]*Guide
	static fs.FS
	// llmsTxt is /llms.txt, rendered from the guides.
	llmsTxt []byte
}

// New parses the templates and renders every guide once.
func New(cfg Config) (*Portal, error) {
	if cfg.EdgeURL == nil {
		return nil, errors.New("portal: EdgeURL is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := template.ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("portal: templates: %w", err)
	}
	guides, err := loadGuides()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	p := &Portal{cfg: cfg, pages: pages, guides: guides, bySlug: map[string]*Guide{}, static: static,
		llmsTxt: renderLLMs(guides)}
	for _, g := range guides {
		p.bySlug[g.Slug] = g
	}
	return p, nil
}

// Register adds the portal's routes to mux: / (exactly), /docs, /docs/{slug},
// /docs/search, /llms.txt, /assets/ and /favicon.ico. The API reference (/docs/api) and its
// downloads (APIDownloads) are the API package's.
func (p *Portal) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.landing)
	mux.HandleFunc("GET /docs", p.index)
	mux.HandleFunc("GET /docs/{$}", p.index)
	mux.HandleFunc("GET /docs/search", p.search)
	mux.HandleFunc("GET /docs/{slug}", p.guide)
	mux.HandleFunc("GET "+LLMsPath, p.llms)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/assets/favicon.svg", http.StatusMovedPermanently) // for clients that ignore the icon link
	})
	assets := http.StripPrefix("/assets/", http.FileServerFS(p.static))
	mux.Handle("GET /assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		assets.ServeHTTP(w, r)
	}))
}

// page is what every template gets.
type page struct {
	Title, Description, Version, Section, Query, EdgeURL string
	// Guide pages.
	Guides    []*Guide
	Downloads []Download
	Slug      string
	Body      template.HTML
	// Search.
	Results []Result
	Problem string
}

func (p *Portal) newPage(title, description, section string) page {
	edge := strings.TrimRight(p.cfg.EdgeURL(), "/")
	if edge == "" {
		edge = "$EDGE" // no edge configured: the examples name it as the quick start does
	}
	return page{Title: title, Description: description, Version: p.cfg.Version, Section: section,
		EdgeURL: edge, Guides: p.guides, Downloads: APIDownloads}
}

// render writes template name with data and status, with the pages' security headers. It
// renders into a buffer first, so a failure is a clean 500 page, never half a page.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, name string, data page) {
	var b bytes.Buffer
	if err := p.pages.ExecuteTemplate(&b, name, data); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "portal: render", "template", name, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (p *Portal) landing(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "landing", p.newPage("Gift cards through one API",
		"Sell digital gift cards inside your product: a sandbox with fake USD in minutes, then live.", ""))
}

func (p *Portal) index(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "index", p.newPage("Documentation", "Guides for building on Steller.", "docs"))
}

func (p *Portal) guide(w http.ResponseWriter, r *http.Request) {
	g, ok := p.bySlug[r.PathValue("slug")]
	if !ok {
		p.render(w, r, http.StatusNotFound, "notfound", p.newPage("Page not found", "", "docs"))
		return
	}
	data := p.newPage(g.Title, g.Summary, "docs")
	data.Slug, data.Body = g.Slug, g.HTML
	p.render(w, r, http.StatusOK, "guide", data)
}

func (p *Portal) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	data := p.newPage("Search", "Search the guides.", "docs")
	status := http.StatusOK
	switch {
	case !utf8.ValidString(q) || strings.ContainsFunc(q, isControl):
		status, data.Problem = http.StatusBadRequest, "The search contains characters that are not text."
	case utf8.RuneCountInString(q) > MaxQueryLen:
		status, data.Problem = http.StatusBadRequest, fmt.Sprintf("The search is longer than %d characters.", MaxQueryLen)
	default:
		data.Query, data.Results = q, Search(p.guides, q)
	}
	p.render(w, r, status, "search", data)
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }
