package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/control-plane/postman"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	_, err := api.New(api.Config{})
	require.Error(t, err)
	for _, want := range []string{"Pool", "Logger", "Engine", "KeyIssuer"} {
		assert.Contains(t, err.Error(), want)
	}
	_, err = api.New(api.Config{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: -1})
	assert.ErrorContains(t, err, "MaxBodyBytes")
}

// TestWholeAPIOverHTTP drives the real server like the portal would: signup sets the
// cookie, /v1/me works with the cookie and with the bearer token, logout revokes the
// session, after which both are 401.
func TestWholeAPIOverHTTP(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	srv := httptest.NewServer(env.API.Handler())
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}

	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := client.Post(srv.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	get := func(path, token string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	resp := post("/v1/public/signup", `{"company":"Acme Gifts","name":"Ada","email":"ada@acme.example","password":"`+apitest.Password+`","referral_code":"FRIEND-1"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	cookie := resp.Header.Get("Set-Cookie")
	assert.Contains(t, cookie, account.CookieName+"=sts_")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Lax")
	assert.NotEmpty(t, resp.Header.Get(api.RequestIDHeader))
	var signup account.SignupBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&signup))
	assert.True(t, strings.HasPrefix(signup.APIKey.Secret, "sk_test_"))

	// The cookie alone signs the portal in.
	resp = get("/v1/me", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var me account.Me
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&me))
	assert.Equal(t, "user", me.Kind)
	assert.Equal(t, "owner", me.Role)
	assert.Equal(t, signup.Partner.ID, me.Partner.ID)
	assert.Equal(t, "Acme Gifts", me.Partner.Company)
	assert.Equal(t, "ada@acme.example", me.User.Email)

	// A bearer token works without the cookie.
	bare := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+signup.Session.Token)
	bresp, err := bare.Do(req)
	require.NoError(t, err)
	_ = bresp.Body.Close()
	assert.Equal(t, http.StatusOK, bresp.StatusCode)

	resp = post("/v1/auth/logout", "")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "Max-Age=0")

	resp = get("/v1/me", signup.Session.Token)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var prob map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&prob))
	assert.Equal(t, resp.Header.Get(api.RequestIDHeader), prob["request_id"], "the problem names the request")
	assert.EqualValues(t, 401, prob["status"])
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	cases := []struct {
		name, sent string
		kept       bool
	}{
		{"valid id kept", "edge-req.123:abc", true},
		{"none generated", "", false},
		{"invalid replaced", "bad id with spaces", false},
		{"too long replaced", strings.Repeat("a", 129), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
			if tc.sent != "" {
				req.Header.Set(api.RequestIDHeader, tc.sent)
			}
			rec := httptest.NewRecorder()
			env.API.Handler().ServeHTTP(rec, req)
			got := rec.Header().Get(api.RequestIDHeader)
			if tc.kept {
				assert.Equal(t, tc.sent, got)
			} else {
				assert.Regexp(t, `^[0-9a-f]{32}$`, got)
			}
			var prob map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &prob))
			assert.Equal(t, got, prob["request_id"])
		})
	}
}

func TestOpenAPIAndOfflineDocs(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	srv := httptest.NewServer(env.API.Handler())
	t.Cleanup(srv.Close)
	fetch := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(raw)
	}

	resp, body := fetch("/openapi.json")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var doc struct {
		OpenAPI    string                    `json:"openapi"`
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	for _, p := range []string{"/v1/public/signup", "/v1/auth/login", "/v1/auth/logout", "/v1/me", "/v1/admin/auth/login",
		"/v1/workspace/members", "/v1/workspace/members/{userId}", "/v1/workspace/invites", "/v1/workspace/invites/{inviteId}", "/v1/public/invites/accept"} {
		assert.Contains(t, doc.Paths, p)
	}
	assert.Contains(t, doc.Components.SecuritySchemes, "sessionBearer")
	assert.Contains(t, doc.Components.SecuritySchemes, "sessionCookie")
	assert.Contains(t, body, `"additionalProperties":false`, "request bodies reject unknown fields")

	resp, page := fetch("/docs/api")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.NotContains(t, page, "https://", "the docs load nothing from the internet")
	for _, asset := range []string{"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/assets/init.js"} {
		assert.Contains(t, page, asset)
		resp, content := fetch(asset)
		assert.Equal(t, http.StatusOK, resp.StatusCode, asset)
		assert.Greater(t, len(content), 100, asset)
	}
	_, js := fetch("/docs/assets/swagger-ui-bundle.js")
	assert.Contains(t, js, "SwaggerUIBundle")
	_, license := fetch("/docs/assets/LICENSE")
	assert.Contains(t, license, "Apache License")

	// Every link and asset of the reference page is served.
	for _, m := range regexp.MustCompile(`(?:href|src)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		resp, _ := fetch(m[1])
		assert.Equal(t, http.StatusOK, resp.StatusCode, "/docs/api links to %s", m[1])
	}

	// The downloads: the documents as attachments, byte for byte the ones Swagger UI reads,
	// and the partner API's Postman collection; the portal links the same paths.
	var portalLinks []string
	for _, d := range portal.APIDownloads {
		portalLinks = append(portalLinks, d.Path)
	}
	assert.Equal(t, api.Downloads(), portalLinks, "the portal links every download, and only those")
	for _, name := range api.DownloadDocs {
		resp, body := fetch(api.DownloadPath(name))
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		assert.Equal(t, "application/openapi+json", resp.Header.Get("Content-Type"), name)
		assert.Equal(t, `attachment; filename=steller-`+name+`.openapi.json`, resp.Header.Get("Content-Disposition"), name)
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &doc), "%s is JSON", name)
		assert.Equal(t, "3.1.0", doc.OpenAPI, name)
		assert.NotEmpty(t, doc.Paths, name)
		_, served := fetch(api.DocPath(name))
		assert.JSONEq(t, served, body, "%s: the download is the document Swagger UI shows", name)
	}
	resp, body = fetch(api.PostmanCollectionPath)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.Equal(t, "attachment; filename=steller-partner.postman_collection.json", resp.Header.Get("Content-Disposition"))
	var collection postman.Collection
	require.NoError(t, json.Unmarshal([]byte(body), &collection), "the collection is JSON")
	assert.Equal(t, postman.SchemaURL, collection.Info.Schema)
	assert.Equal(t, "Steller partner API", collection.Info.Name, "made from the partner API's document")
	assert.NotEmpty(t, collection.Item)
}

// TestHumatestOnTheAPI shows the API works under humatest too (the same operations,
// minus the outer HTTP middleware).
func TestHumatestOnTheAPI(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	tapi := humatest.Wrap(t, env.API.Huma())
	p := env.Signup("Humatest Co")
	resp := tapi.Get("/v1/me", "Authorization: Bearer "+p.Token)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	resp = tapi.Get("/v1/me")
	require.Equal(t, http.StatusUnauthorized, resp.Code)
}

// TestHostileURLsAreABadRequestProblem: a NUL byte or invalid UTF-8 anywhere in the path or
// the query is refused with a 400 problem before any handler (no store can keep such text),
// and an unknown path is a not_found problem, both with the request id.
func TestHostileURLsAreABadRequestProblem(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	cases := []struct {
		target string
		status int
		code   string
	}{
		{"/v1/webhooks/deliveries?endpoint_id=%00%7D%C3%95", http.StatusBadRequest, "bad_request"},
		{"/v1/keys?cursor=%FF", http.StatusBadRequest, "bad_request"},
		{"/v1/keys/key_%00", http.StatusBadRequest, "bad_request"},
		{"/v1/me?%C3%28=1", http.StatusBadRequest, "bad_request"},
		{"/no/such/path", http.StatusNotFound, "not_found"},
		{"TRACE /v1/me", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"PUT /v1/workspace/members", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"OPTIONS /v1/workspace/invites/inv_1", http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tc := range cases {
		method, target, ok := strings.Cut(tc.target, " ")
		if !ok {
			method, target = http.MethodGet, tc.target
		}
		req := httptest.NewRequest(method, target, nil)
		rec := httptest.NewRecorder()
		env.API.Handler().ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, tc.target)
		assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), tc.target)
		var prob map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &prob), tc.target)
		assert.Equal(t, tc.code, prob["code"], tc.target)
		assert.Equal(t, rec.Header().Get(api.RequestIDHeader), prob["request_id"], tc.target)
		if tc.status == http.StatusMethodNotAllowed {
			assert.NotEmpty(t, rec.Header().Get("Allow"), tc.target)
		}
		if tc.target == "OPTIONS /v1/workspace/invites/inv_1" {
			assert.Equal(t, http.MethodDelete, rec.Header().Get("Allow"), "only the methods of the path's own route")
		}
	}
}
