package sandbox_test

import (
	"bytes"
	"encoding/json"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/sandbox"
)

// contract is the partner API's OpenAPI document, compiled once so every reply of every
// test in this package is checked against it (env.do calls check).
var contract = sync.OnceValues(func() (*partnerContract, error) {
	raw, err := sandbox.PartnerOpenAPI("test").MarshalJSON()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	tree, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("partner.json", tree); err != nil {
		return nil, err
	}
	pc := &partnerContract{}
	for path, methods := range doc.Paths {
		pattern := regexp.MustCompile("^" + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "[^/]+") + "$")
		for method, op := range methods {
			for status, resp := range op.Responses {
				for media := range resp.Content {
					ptr := "partner.json#/paths/" + strings.ReplaceAll(strings.ReplaceAll(path, "~", "~0"), "/", "~1") +
						"/" + method + "/responses/" + status + "/content/" + strings.ReplaceAll(media, "/", "~1") + "/schema"
					s, err := c.Compile(ptr)
					if err != nil {
						return nil, err
					}
					pc.responses = append(pc.responses, contractResponse{strings.ToUpper(method), pattern, status, media, s})
				}
			}
		}
	}
	return pc, nil
})

type partnerContract struct{ responses []contractResponse }

type contractResponse struct {
	method string
	path   *regexp.Regexp
	status string
	media  string
	schema *jsonschema.Schema
}

// check fails the test when r, the answer to method and path, is not what the partner
// API's document promises: an undocumented status, another media type, or a body outside
// the schema. Paths the document does not describe are not checked.
func check(t *testing.T, method, path string, r reply) {
	t.Helper()
	pc, err := contract()
	require.NoError(t, err)
	path, _, _ = strings.Cut(path, "?")
	var known bool
	for _, cr := range pc.responses {
		if cr.method != method || !cr.path.MatchString(path) {
			continue
		}
		known = true
		if cr.status != strconv.Itoa(r.status) {
			continue
		}
		media, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
		if !assert.Equal(t, cr.media, media, "%s %s %d: media type", method, path, r.status) {
			return
		}
		body, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
		require.NoError(t, err, "%s %s %d: body is JSON", method, path, r.status)
		assert.NoError(t, cr.schema.Validate(body), "%s %s %d: the body matches the documented schema: %s", method, path, r.status, r.body)
		assert.NotEmpty(t, r.header.Get("X-Request-Id"), "%s %s %d: X-Request-Id is documented as always sent", method, path, r.status)
		return
	}
	if known {
		t.Errorf("%s %s answered %d, which the partner API's document does not list: %s", method, path, r.status, r.body)
	}
}
