package api

import (
	"embed"
	"net/http"
)

// docsAssets are Swagger UI's distribution files (swagger-ui-dist 5.17.14, Apache-2.0,
// see docsassets/LICENSE and NOTICE) and the page's own start script, served from the
// binary so /docs renders with no internet access.
//
//go:embed docsassets
var docsAssets embed.FS

// docsCSP allows only this origin: Swagger UI's stylesheet needs inline styles, its
// scripts come from /docs/assets, and nothing is loaded from elsewhere.
const docsCSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

const docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Steller control plane API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`

// registerDocs serves the docs page and its assets on mux.
func registerDocs(mux *http.ServeMux) {
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", docsCSP)
		_, _ = w.Write([]byte(docsPage))
	})
	assets := http.StripPrefix("/docs/assets/", http.FileServerFS(mustSub(docsAssets, "docsassets")))
	mux.Handle("GET /docs/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		assets.ServeHTTP(w, r)
	}))
}
