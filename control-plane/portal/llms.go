package portal

import (
	"net/http"
	"strings"
)

// Download is one file of the API reference that the docs link to for download.
type Download struct {
	// Title names it in links.
	Title string
	// Path is where the API serves it.
	Path string
	// Description says in one line what it is.
	Description string
}

// APIDownloads are the API reference's downloads, which the API package serves
// (api.Downloads, whose tests check these paths); the docs navigation and /llms.txt link
// them.
var APIDownloads = []Download{
	{"Partner API: OpenAPI document", "/docs/api/partner.openapi.json",
		"The gift-card API partners call through the edge with an API key: catalog, orders, balance (OpenAPI 3.1, JSON)."},
	{"Management API: OpenAPI document", "/docs/api/management.openapi.json",
		"What a partner's team runs its account with: sign-up, sessions, workspace, API keys, webhooks, request logs, usage (OpenAPI 3.1, JSON)."},
	{"Partner API: Postman collection", "/docs/api/partner.postman_collection.json",
		"Every partner API operation as a ready request (Postman Collection v2.1), with {{baseUrl}} and {{apiKey}} variables."},
}

// LLMsPath is where the index of the docs for AI assistants is served (llmstxt.org).
const LLMsPath = "/llms.txt"

// llmsSummary is /llms.txt's summary: what Steller is, and what an assistant must know to
// read the rest.
const llmsSummary = "Steller sells digital gift cards to platforms through one API. A partner signs up, gets a " +
	"sandbox key (`sk_test_…`) that orders with fake USD, and later a live key (`sk_live_…`). Every call goes " +
	"through Steller's edge with the key as `Authorization: Bearer <key>` or `X-Api-Key: <key>`; orders are " +
	"idempotent with `Idempotency-Key`, finish asynchronously and are reported by signed webhooks (Standard " +
	"Webhooks); errors are RFC 9457 problem documents with a stable `code` and the request id."

// renderLLMs writes the llms.txt index of guides (in reading order) and the API reference's
// downloads, per the llms.txt convention: an H1, a blockquote summary, then H2 sections
// of Markdown link lists.
func renderLLMs(guides []*Guide) []byte {
	var b strings.Builder
	b.WriteString("# Steller\n\n> " + llmsSummary + "\n\n## Docs\n\n")
	for _, g := range guides {
		b.WriteString(llmsLink(g.Title, "/docs/"+g.Slug, g.Summary))
	}
	b.WriteString("\n## API reference\n\n")
	for _, d := range APIDownloads {
		b.WriteString(llmsLink(d.Title, d.Path, d.Description))
	}
	return []byte(b.String())
}

// llmsLink is one item of an llms.txt link list.
func llmsLink(title, path, description string) string {
	escape := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`)
	return "- [" + escape.Replace(title) + "](" + path + "): " + strings.Join(strings.Fields(description), " ") + "\n"
}

// llms serves /llms.txt, rendered once in New.
func (p *Portal) llms(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(p.llmsTxt)
}
