package apikey_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/apikey"
)

// Every role the edge policy requires for a route must be grantable, and every grantable
// role except "*" must be required by some route (else it would grant nothing).
func TestRolesMatchTheEdgePolicyRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../policies/rego/steller/edge/data.json")
	require.NoError(t, err)
	var data struct {
		Routes map[string]struct {
			Role string `json:"role"`
		} `json:"routes"`
	}
	require.NoError(t, json.Unmarshal(raw, &data))
	required := map[string]bool{}
	for name, r := range data.Routes {
		assert.True(t, apikey.KnownRole(r.Role), "route %s requires role %q, which keys cannot be given", name, r.Role)
		required[r.Role] = true
	}
	for _, r := range apikey.Roles {
		if r != "*" {
			assert.True(t, required[r], "role %q is required by no route", r)
		}
	}
	for _, r := range apikey.SandboxRoles {
		assert.True(t, apikey.KnownRole(r), r)
	}
}
