package api

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// docsAssets are the docs page's own start script and stylesheet (docsassets/init.js,
// docs.css) and, in docsassets/vendor, Swagger UI's distribution files (Apache-2.0, with
// its LICENSE and NOTICE), which `scripts/install.sh web` copies from the swagger-ui-dist package that
// package-lock.json pins. They are served from the binary so /docs/api renders with no internet
// access. The directory is embedded, not the files, so the package compiles before that
// install; /docs/api then says what to run.
//
//go:embed docsassets
var docsAssets embed.FS

// docsCSP allows only this origin: Swagger UI's stylesheet needs inline styles, its
// scripts come from /docs/assets, and nothing is loaded from elsewhere. The page's list of
// documents is JSON data (not a script), so no inline script needs allowing.
const docsCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

// docsInstallHint is how to put Swagger UI's files in place when the binary lacks them.
const docsInstallHint = "bash scripts/install.sh web"

// swaggerUIFiles are the files of docsassets/vendor that the docs page loads.
var swaggerUIFiles = []string{"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"}

// docsDocument is one OpenAPI document of the docs page's top-bar selector, in the shape
// of Swagger UI's urls option.
type docsDocument struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// docsDocuments are the documents /docs/api presents, the first shown by default: what a
// partner integrates with first, then what it manages its account with, then the platform
// admins' operations.
var docsDocuments = []docsDocument{
	{Name: "Partner API (gift cards, through the edge)", URL: DocPath(DocPartner)},
	{Name: "Management API", URL: DocPath(DocManagement)},
	{Name: "Admin API", URL: DocPath(DocAdmin)},
}

// docsDownloads are the files the docs page offers for download, in Downloads order.
var docsDownloads = []docsDocument{
	{Name: "Partner API: OpenAPI document (JSON)", URL: DownloadPath(DocPartner)},
	{Name: "Management API: OpenAPI document (JSON)", URL: DownloadPath(DocManagement)},
	{Name: "Partner API: Postman collection (v2.1)", URL: PostmanCollectionPath},
}

// docsPages are the Swagger UI page ("docs") and the page served in its place when the
// binary was built without Swagger UI's files ("missing"). Both list the documents as
// links, so they stay reachable without JavaScript or Swagger UI.
var docsPages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Steller API docs</title>
{{end}}
{{define "links"}}<ul>
{{range .Documents}}<li><a href="{{.URL}}">{{.Name}}</a></li>
{{end}}</ul>
{{end}}
{{define "downloads"}}<nav class="docs-downloads" aria-label="Downloads"><span>Download:</span>
{{range .Downloads}}<a href="{{.URL}}" download>{{.Name}}</a>
{{end}}</nav>
{{end}}
{{define "docs"}}{{template "head"}}<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="/docs/assets/docs.css">
</head>
<body>
<script id="docs-urls" type="application/json">{{.Documents}}</script>
{{template "downloads" .}}<noscript>{{template "links" .}}</noscript>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
{{end}}
{{define "missing"}}{{template "head"}}</head>
<body>
<h1>Swagger UI is not installed</h1>
<p>This binary was built without Swagger UI's files (missing: {{range $i, $f := .Missing}}{{if $i}}, {{end}}{{$f}}{{end}}).
Run <code>{{.Hint}}</code> and rebuild (<code>make build</code> does both).</p>
<p>The OpenAPI documents are served all the same:</p>
{{template "links" .}}<p>And the downloads:</p>
<ul>
{{range .Downloads}}<li><a href="{{.URL}}" download>{{.Name}}</a></li>
{{end}}</ul>
</body>
</html>
{{end}}`))

// registerDocs serves the docs page and its assets on mux, from the binary.
func registerDocs(mux *http.ServeMux) {
	serveDocs(mux, mustSub(docsAssets, "docsassets"))
}

// serveDocs serves the docs page on mux and the files of assets under /docs/assets/:
// init.js and docs.css from assets, the rest from its vendor directory. Without Swagger
// UI's files, /docs/api is a 503 page saying how to install them, never a page whose
// scripts are missing.
func serveDocs(mux *http.ServeMux, assets fs.FS) {
	vendor := mustSub(assets, "vendor")
	var missing []string
	for _, f := range swaggerUIFiles {
		if _, err := fs.Stat(vendor, f); err != nil {
			missing = append(missing, f)
		}
	}
	status, page := http.StatusOK, renderDocsPage("docs", nil)
	if len(missing) > 0 {
		status, page = http.StatusServiceUnavailable, renderDocsPage("missing", missing)
	}
	mux.HandleFunc("GET /docs/api", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", docsCSP)
		w.WriteHeader(status)
		_, _ = w.Write(page)
	})
	mux.Handle("GET /docs/assets/init.js", serveDocsAssets(assets))
	mux.Handle("GET /docs/assets/docs.css", serveDocsAssets(assets))
	mux.Handle("GET /docs/assets/", serveDocsAssets(vendor))
}

// renderDocsPage renders the docsPages template name; the pages are fixed at build time,
// so a failure is a bug in the template.
func renderDocsPage(name string, missing []string) []byte {
	var b bytes.Buffer
	err := docsPages.ExecuteTemplate(&b, name, struct {
		Documents, Downloads []docsDocument
		Missing              []string
		Hint                 string
	}{docsDocuments, docsDownloads, missing, docsInstallHint})
	if err != nil {
		panic(err)
	}
	return b.Bytes()
}

// serveDocsAssets serves the files of fsys under /docs/assets/.
func serveDocsAssets(fsys fs.FS) http.Handler {
	files := http.StripPrefix("/docs/assets/", http.FileServerFS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
