package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIPrintsOffline needs no server: every connection the control plane is wired
// with points at a closed port and is never opened.
func TestOpenAPIPrintsOffline(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	root := rootCommand()
	root.Writer = &out
	require.NoError(t, root.Run(context.Background(), []string{"steller", "openapi"}))
	var doc struct {
		OpenAPI    string                    `json:"openapi"`
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	for _, p := range []string{"/v1/public/signup", "/v1/keys", "/v1/logs", "/v1/usage", "/v1/webhooks/endpoints",
		"/v1/admin/partners", "/v1/admin/policies", "/v1/console/test-order"} {
		assert.Contains(t, doc.Paths, p)
	}
	errModel := doc.Components.Schemas["ErrorModel"].Properties
	for _, f := range []string{"type", "title", "status", "detail", "code", "request_id", "errors"} {
		assert.Contains(t, errModel, f, "the error schema declares every field the server sends")
	}

	err := rootCommand().Run(context.Background(), []string{"steller", "openapi", "--api", "nonsense"})
	require.ErrorContains(t, err, "nonsense")
}
