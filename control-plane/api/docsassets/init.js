// Starts Swagger UI on the OpenAPI documents the page lists in #docs-urls, with the
// standalone layout's top bar to choose between them. The first is shown unless the
// address names another (?urls.primaryName=, which the top bar sets on a choice). Kept out
// of the page so the docs run under a Content-Security-Policy without inline scripts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    urls: JSON.parse(document.getElementById("docs-urls").textContent),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
});
