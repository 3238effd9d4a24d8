package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/input"
)

// TestOpenAPIPrintsOffline needs no server: every connection the control plane is wired
// with points at a closed port and is never opened.
func TestOpenAPIPrintsOffline(t *testing.T) {
	t.Parallel()
	docs := map[string]openAPIDoc{}
	for _, name := range []string{"", "partner", "management", "admin", "control-plane"} {
		var out bytes.Buffer
		root := rootCommand()
		root.Writer = &out
		args := []string{"steller", "openapi"}
		if name != "" {
			args = append(args, "--api", name)
		}
		require.NoError(t, root.Run(context.Background(), args))
		var doc openAPIDoc
		require.NoError(t, json.Unmarshal(out.Bytes(), &doc), name)
		assert.Equal(t, "3.1.0", doc.OpenAPI, name)
		docs[name] = doc
	}
	assert.Equal(t, docs["management"], docs[""], "the management API is the default")

	all := docs["control-plane"]
	for _, p := range []string{"/v1/public/signup", "/v1/keys", "/v1/logs", "/v1/usage", "/v1/webhooks/endpoints",
		"/v1/admin/partners", "/v1/admin/policies", "/v1/console/test-order"} {
		assert.Contains(t, all.Paths, p)
	}
	for p := range all.Paths {
		_, inManagement := docs["management"].Paths[p]
		_, inAdmin := docs["admin"].Paths[p]
		assert.True(t, inManagement != inAdmin, "%s is in exactly one of management and admin", p)
		assert.Equal(t, strings.HasPrefix(p, "/v1/admin/"), inAdmin, p)
	}
	assert.Len(t, docs["management"].Paths, len(all.Paths)-len(docs["admin"].Paths))
	errModel := all.Components.Schemas["ErrorModel"].Properties
	for _, f := range []string{"type", "title", "status", "detail", "code", "request_id", "errors"} {
		assert.Contains(t, errModel, f, "the error schema declares every field the server sends")
		assert.Contains(t, docs["partner"].Components.Schemas["Problem"].Properties, f, "the partner API's problem declares it too")
	}
	assert.ElementsMatch(t, []string{"/v1/catalog", "/v1/orders", "/v1/orders/{id}", "/v1/balance"}, slices.Collect(maps.Keys(docs["partner"].Paths)))

	err := rootCommand().Run(context.Background(), []string{"steller", "openapi", "--api", "nonsense"})
	require.ErrorContains(t, err, "nonsense")
}

// openAPIDoc is the part of an OpenAPI document the test reads.
type openAPIDoc struct {
	OpenAPI    string                    `json:"openapi"`
	Paths      map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

// TestPrintableTextPatternsAreOneRule: struct tags must spell patterns out, so the
// "no control characters" rule is written in several packages' tags; every spelling in the
// document is input.PlainTextPattern, or it for a path (starting with /) or non-empty text.
func TestPrintableTextPatternsAreOneRule(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	root := rootCommand()
	root.Writer = &out
	require.NoError(t, root.Run(context.Background(), []string{"steller", "openapi", "--api", "control-plane"}))
	var doc any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	body := strings.TrimSuffix(strings.TrimPrefix(input.PlainTextPattern, "^"), "*$") // [^\x00-...]
	allowed := []string{input.PlainTextPattern, "^/" + body + "*$", "^" + body + "+$"}
	var seen int
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if p, ok := x.(string); ok && k == "pattern" && strings.Contains(p, `\x1f`) {
					seen++
					assert.Contains(t, allowed, p)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	assert.Greater(t, seen, 5, "the printable-text patterns were not found")
}
