package postman_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/postman"
	"github.com/steller/platform/control-plane/sandbox"
)

// TestThePartnerAPIsCollection converts the real partner API document: every operation is
// one request (its method, path and summary), in its tag's folder, sending the key the way
// the document's API-key header scheme says, and the collection's JSON has every field a
// Postman Collection v2.1 requires.
func TestThePartnerAPIsCollection(t *testing.T) {
	t.Parallel()
	raw, err := sandbox.PartnerOpenAPI("test").MarshalJSON()
	require.NoError(t, err)
	var spec struct {
		Paths map[string]map[string]struct {
			Summary     string   `json:"summary"`
			Tags        []string `json:"tags"`
			RequestBody *struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
			SecuritySchemes map[string]struct {
				Type, In, Name string
			} `json:"securitySchemes"`
		} `json:"components"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	require.NotEmpty(t, spec.Paths)

	c, err := postman.FromOpenAPI(raw)
	require.NoError(t, err)
	out, err := json.Marshal(c)
	require.NoError(t, err)
	validV21(t, out)

	got := map[string]int{} // "METHOD /path" → how often
	for _, folder := range c.Item {
		require.NotNil(t, folder.Item, "every partner operation is tagged: %s is a folder", folder.Name)
		for _, it := range folder.Item {
			r := it.Request
			path := "/" + strings.Join(r.URL.Path, "/")
			for _, v := range r.URL.Variable {
				path = strings.ReplaceAll(path, ":"+v.Key, "{"+v.Key+"}")
			}
			key := r.Method + " " + path
			got[key]++
			op, ok := spec.Paths[path][strings.ToLower(r.Method)]
			if !assert.True(t, ok, "%s is no operation of the document", key) {
				continue
			}
			assert.Equal(t, op.Summary, it.Name, key)
			assert.Equal(t, op.Tags[0], folder.Name, key)
			assert.True(t, strings.HasPrefix(r.URL.Raw, "{{baseUrl}}/"), key)
			if op.RequestBody == nil {
				assert.Nil(t, r.Body, key)
				continue
			}
			require.NotNil(t, r.Body, key)
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.Body.Raw), &body), "%s: the example body is JSON", key)
			schema := strings.TrimPrefix(op.RequestBody.Content["application/json"].Schema.Ref, "#/components/schemas/")
			required := spec.Components.Schemas[schema].Required
			require.NotEmpty(t, required, key)
			for _, field := range required {
				assert.Contains(t, body, field, "%s: the example body has every required field", key)
			}
		}
	}
	want := map[string]int{}
	for path, ops := range spec.Paths {
		for method := range ops {
			want[strings.ToUpper(method)+" "+path] = 1
		}
	}
	assert.Equal(t, want, got, "every operation exactly once")

	var header string
	for _, s := range spec.Components.SecuritySchemes {
		if s.Type == "apiKey" && s.In == "header" {
			header = s.Name
		}
	}
	require.NotEmpty(t, header, "the partner API takes a key in a header")
	require.NotNil(t, c.Auth)
	assert.Equal(t, "apikey", c.Auth.Type)
	assert.Contains(t, c.Auth.APIKey, postman.Variable{Key: "key", Value: header, Type: "string"})
	assert.Contains(t, c.Auth.APIKey, postman.Variable{Key: "value", Value: "{{" + postman.VarAPIKey + "}}", Type: "string"})
	var vars []string
	for _, v := range c.Variable {
		vars = append(vars, v.Key+"="+v.Value)
	}
	assert.Equal(t, []string{postman.VarBaseURL + "=" + spec.Servers[0].URL, postman.VarAPIKey + "="}, vars)
}

// validV21 checks raw against what the Postman Collection v2.1 schema requires: info with
// name and the v2.1 schema URL, an item array whose items are folders (name, item) or
// requests (request with a known method and a url, string or object with raw), recursively.
func validV21(t *testing.T, raw []byte) {
	t.Helper()
	var c map[string]any
	require.NoError(t, json.Unmarshal(raw, &c))
	info, ok := c["info"].(map[string]any)
	require.True(t, ok, "info is an object")
	assert.NotEmpty(t, info["name"], "info.name")
	assert.Equal(t, "https://schema.getpostman.com/json/collection/v2.1.0/collection.json", info["schema"], "info.schema")
	methods := []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodPatch, http.MethodDelete, "COPY",
		http.MethodHead, http.MethodOptions, "LINK", "UNLINK", "PURGE", "LOCK", "UNLOCK", "PROPFIND", "VIEW"}
	var walk func(where string, items any)
	walk = func(where string, items any) {
		list, ok := items.([]any)
		require.True(t, ok, "%s.item is an array", where)
		for i, item := range list {
			at := fmt.Sprintf("%s.item[%d]", where, i)
			it, ok := item.(map[string]any)
			require.True(t, ok, "%s is an object", at)
			if sub, folder := it["item"]; folder {
				assert.NotEmpty(t, it["name"], "%s.name (a folder)", at)
				walk(at, sub)
				continue
			}
			req, ok := it["request"].(map[string]any)
			require.True(t, ok, "%s.request is an object (an item is a folder or a request)", at)
			method, _ := req["method"].(string)
			assert.Contains(t, methods, method, "%s.request.method", at)
			switch u := req["url"].(type) {
			case string:
				assert.NotEmpty(t, u, "%s.request.url", at)
			case map[string]any:
				assert.NotEmpty(t, u["raw"], "%s.request.url.raw", at)
			default:
				t.Errorf("%s.request.url is neither a string nor an object: %v", at, u)
			}
			if auth, ok := req["auth"].(map[string]any); ok {
				assert.True(t, slices.Contains([]string{"apikey", "bearer", "noauth"}, auth["type"].(string)), at)
			}
		}
	}
	walk("", c["item"])
}
