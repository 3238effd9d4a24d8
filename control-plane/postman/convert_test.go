package postman_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/postman"
)

// doc is a small OpenAPI 3.1 document with paths (JSON) and, when given, components and
// top-level security.
func doc(paths, components, security string) []byte {
	s := `{"openapi":"3.1.0","info":{"title":"Tiny","description":"A tiny API."},` +
		`"servers":[{"url":"https://{region}.example.test/api/","variables":{"region":{"default":"eu"}}}],` +
		`"tags":[{"name":"widgets","description":"Widgets."},{"name":"empty"}],"paths":` + paths
	if components != "" {
		s += `,"components":` + components
	}
	if security != "" {
		s += `,"security":` + security
	}
	return []byte(s + "}")
}

// keySchemes are a bearer scheme and an API-key header scheme, bearer listed first.
const keySchemes = `{"securitySchemes":{"bearer":{"type":"http","scheme":"bearer"},` +
	`"header":{"type":"apiKey","in":"header","name":"X-Api-Key"},"query":{"type":"apiKey","in":"query","name":"key"}}}`

// requests are every request of c by name, and the folder each is in ("" at the top).
func requests(t *testing.T, c *postman.Collection) (map[string]*postman.Request, map[string]string) {
	t.Helper()
	reqs, folders := map[string]*postman.Request{}, map[string]string{}
	var walk func(folder string, items []postman.Item)
	walk = func(folder string, items []postman.Item) {
		for _, it := range items {
			if it.Request == nil {
				walk(it.Name, it.Item)
				continue
			}
			require.NotContains(t, reqs, it.Name, "a request appears once")
			reqs[it.Name], folders[it.Name] = it.Request, folder
		}
	}
	walk("", c.Item)
	return reqs, folders
}

func TestFromOpenAPI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		doc   []byte
		check func(t *testing.T, c *postman.Collection)
	}{{
		name: "path and query parameters",
		doc: doc(`{"/v1/widgets/{widgetId}/parts":{"parameters":[{"name":"widgetId","in":"path","required":true,"description":"The widget.","schema":{"type":"string","examples":["wid_1"]}}],
			"get":{"summary":"List parts","description":"Every part.","tags":["widgets"],"parameters":[
			{"name":"limit","in":"query","description":"At most.","schema":{"type":"integer","default":20}},
			{"name":"status","in":"query","required":true,"schema":{"type":"string","enum":["on","off"]}},
			{"name":"session","in":"cookie","schema":{"type":"string"}}]}}}`, "", ""),
		check: func(t *testing.T, c *postman.Collection) {
			reqs, _ := requests(t, c)
			r := reqs["List parts"]
			require.NotNil(t, r)
			assert.Equal(t, "GET", r.Method)
			assert.Equal(t, "Every part.", r.Description)
			assert.Equal(t, "{{baseUrl}}/v1/widgets/:widgetId/parts?status=on", r.URL.Raw, "enabled query parameters only")
			assert.Equal(t, []string{"{{baseUrl}}"}, r.URL.Host)
			assert.Equal(t, []string{"v1", "widgets", ":widgetId", "parts"}, r.URL.Path)
			assert.Equal(t, []postman.Variable{{Key: "widgetId", Value: "wid_1", Description: "The widget."}}, r.URL.Variable)
			assert.Equal(t, []postman.KeyValue{
				{Key: "limit", Value: "20", Description: "At most.", Disabled: true},
				{Key: "status", Value: "on"},
			}, r.URL.Query)
			assert.Empty(t, r.Header, "cookies are Postman's own")
			assert.Equal(t, []postman.Variable{{Key: postman.VarBaseURL, Value: "https://eu.example.test/api", Type: "string",
				Description: c.Variable[0].Description}}, c.Variable, "the server's variables filled in; no key variable without auth")
			assert.Nil(t, c.Auth)
		},
	}, {
		name: "an API-key header is preferred to a bearer token",
		doc:  doc(`{"/a":{"get":{"summary":"A"}}}`, keySchemes, `[{"bearer":[]},{"header":[]}]`),
		check: func(t *testing.T, c *postman.Collection) {
			require.NotNil(t, c.Auth)
			assert.Equal(t, "apikey", c.Auth.Type)
			assert.ElementsMatch(t, []postman.Variable{{Key: "key", Value: "X-Api-Key", Type: "string"},
				{Key: "value", Value: "{{apiKey}}", Type: "string"}, {Key: "in", Value: "header", Type: "string"}}, c.Auth.APIKey)
			require.Len(t, c.Variable, 2)
			assert.Equal(t, postman.VarAPIKey, c.Variable[1].Key)
			reqs, _ := requests(t, c)
			assert.Nil(t, reqs["A"].Auth, "the request inherits the collection's")
		},
	}, {
		name: "bearer alone, an open operation and one with its own scheme",
		doc: doc(`{"/a":{"get":{"summary":"A"}},"/open":{"get":{"summary":"Open","security":[]}},
			"/q":{"get":{"summary":"Q","security":[{"query":[]}]}}}`, keySchemes, `[{"bearer":[]}]`),
		check: func(t *testing.T, c *postman.Collection) {
			require.NotNil(t, c.Auth)
			assert.Equal(t, "bearer", c.Auth.Type)
			assert.Equal(t, []postman.Variable{{Key: "token", Value: "{{apiKey}}", Type: "string"}}, c.Auth.Bearer)
			reqs, folders := requests(t, c)
			assert.Equal(t, &postman.Auth{Type: "noauth"}, reqs["Open"].Auth)
			require.NotNil(t, reqs["Q"].Auth)
			assert.Equal(t, "apikey", reqs["Q"].Auth.Type)
			assert.Contains(t, reqs["Q"].Auth.APIKey, postman.Variable{Key: "in", Value: "query", Type: "string"})
			assert.Equal(t, "", folders["A"], "untagged operations sit at the top")
		},
	}, {
		name: "a JSON body from the schema's examples",
		doc: doc(`{"/w":{"post":{"operationId":"widgets.create","tags":["widgets"],"parameters":[
			{"name":"Idempotency-Key","in":"header","required":true,"schema":{"type":"string"}},
			{"name":"X-Trace","in":"header","example":"t-1"},
			{"name":"Content-Type","in":"header","schema":{"type":"string"}}],
			"requestBody":{"required":true,"content":{"text/plain":{},"application/json":{"schema":{"$ref":"#/components/schemas/Widget"}}}}}}}`,
			`{"schemas":{"Widget":{"type":"object","required":["name","size","parent"],"properties":{
				"size":{"type":"integer"},"name":{"type":"string","examples":["Bolt"]},"color":{"type":["string","null"],"enum":["red",null]},
				"note":{"type":"string"},"tags":{"type":"array","items":{"type":"string","example":"x"}},
				"parent":{"anyOf":[{"type":"null"},{"$ref":"#/components/schemas/Widget"}]},
				"dims":{"allOf":[{"type":"object","properties":{"w":{"type":"integer","example":2}}},{"type":"object","properties":{"h":{"type":"integer","example":3}}}]}}}}}`, ""),
		check: func(t *testing.T, c *postman.Collection) {
			reqs, folders := requests(t, c)
			r := reqs["widgets.create"]
			require.NotNil(t, r, "named by the operation id without a summary")
			assert.Equal(t, "widgets", folders["widgets.create"])
			assert.Equal(t, []postman.KeyValue{
				{Key: "Idempotency-Key", Value: "{{$guid}}"},
				{Key: "X-Trace", Value: "t-1", Disabled: true},
				{Key: "Content-Type", Value: "application/json"},
			}, r.Header, "JSON chosen; a Content-Type parameter ignored")
			require.NotNil(t, r.Body)
			assert.Equal(t, "raw", r.Body.Mode)
			require.NotNil(t, r.Body.Options)
			assert.Equal(t, "json", r.Body.Options.Raw.Language)
			// Required first in their order (size has no example: zero; parent would
			// recurse into Widget: null), then optional ones with an example, by name.
			assert.JSONEq(t, `{"name":"Bolt","size":0,"parent":null,"color":"red","dims":{"w":2,"h":3},"tags":["x"]}`, r.Body.Raw)
			var order []string
			dec := json.NewDecoder(strings.NewReader(r.Body.Raw))
			_, _ = dec.Token()
			for dec.More() {
				tok, err := dec.Token()
				require.NoError(t, err)
				order = append(order, tok.(string))
				var skip json.RawMessage
				require.NoError(t, dec.Decode(&skip))
			}
			assert.Equal(t, []string{"name", "size", "parent", "color", "dims", "tags"}, order)
			assert.Contains(t, r.Body.Raw, "\n  \"name\": \"Bolt\"", "indented")
		},
	}, {
		name: "a media type example wins over the schema",
		doc: doc(`{"/w":{"put":{"summary":"Put","requestBody":{"$ref":"#/components/requestBodies/W"}}}}`,
			`{"requestBodies":{"W":{"content":{"application/merge-patch+json":{"schema":{"type":"object","properties":{"a":{"example":1}}},
				"examples":{"b":{"value":{"from":"b"}},"a":{"value":{"from":"a"}}}}}}}}`, ""),
		check: func(t *testing.T, c *postman.Collection) {
			reqs, _ := requests(t, c)
			r := reqs["Put"]
			assert.Equal(t, "PUT", r.Method)
			assert.Equal(t, []postman.KeyValue{{Key: "Content-Type", Value: "application/merge-patch+json"}}, r.Header)
			assert.JSONEq(t, `{"from":"a"}`, r.Body.Raw, "the first example by name")
		},
	}, {
		name: "folders follow the document's tags, each operation once",
		doc: doc(`{"/z":{"get":{"summary":"Z","tags":["other"]}},"/b":{"delete":{"summary":"B","tags":["widgets","other"],"deprecated":true,"description":"Gone."},
			"get":{"summary":"Get B","tags":["widgets"]}},"/c":{"get":{}}}`, "", ""),
		check: func(t *testing.T, c *postman.Collection) {
			var names []string
			for _, it := range c.Item {
				names = append(names, it.Name)
			}
			assert.Equal(t, []string{"widgets", "other", "GET /c"}, names, "declared tags first, an empty one left out, untagged last")
			assert.Equal(t, "Widgets.", c.Item[0].Description)
			require.Len(t, c.Item[0].Item, 2)
			assert.Equal(t, "Get B", c.Item[0].Item[0].Name, "GET before DELETE on a path")
			assert.Equal(t, "DELETE", c.Item[0].Item[1].Request.Method)
			assert.Equal(t, "**Deprecated.** Gone.", c.Item[0].Item[1].Request.Description)
			reqs, folders := requests(t, c)
			assert.Len(t, reqs, 4)
			assert.Equal(t, "widgets", folders["B"], "the first tag's folder")
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := postman.FromOpenAPI(tc.doc)
			require.NoError(t, err)
			assert.Equal(t, "Tiny", c.Info.Name)
			assert.Equal(t, "A tiny API.", c.Info.Description)
			assert.Equal(t, postman.SchemaURL, c.Info.Schema)
			tc.check(t, c)
		})
	}
}

func TestFromOpenAPIRefusesWhatIsNotAnOpenAPI3Document(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ doc, err string }{
		{`{"openapi":`, "read the OpenAPI document"},
		{`{"swagger":"2.0","info":{"title":"Old"},"paths":{}}`, "not an OpenAPI 3 document"},
		{`{"openapi":"3.1.0","info":{},"paths":{}}`, "no info.title"},
		{`{"openapi":"3.1.0","info":{"title":"T"},"paths":{"/a":{"get":{"parameters":[{"$ref":"#/components/parameters/Nope"}]}}}}`,
			`GET /a: unresolved $ref "#/components/parameters/Nope"`},
		{`{"openapi":"3.1.0","info":{"title":"T"},"paths":{"/a":{"post":{"requestBody":{"$ref":"other.json#/x"}}}}}`,
			"is not a reference to #/components/requestBodies"},
	} {
		_, err := postman.FromOpenAPI([]byte(tc.doc))
		assert.ErrorContains(t, err, tc.err, tc.doc)
	}
}
