// Starts Swagger UI on the control plane's own OpenAPI document; kept out of the page so
// the docs can run under a Content-Security-Policy without inline scripts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
  });
});
