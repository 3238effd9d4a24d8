package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api/apitest"
)

// TestRBACMatrix runs every caller kind against every protected operation of the
// accounts and workspace packages and checks the status each gets. Each case works in a
// workspace of its own, so a change made by one case cannot decide another.
func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	adminToken := env.AdminSession()

	type op struct {
		name string
		// call performs the operation with token in a fresh workspace w, whose member
		// target and pending invitation inviteID it may act on.
		call func(token string, w apitest.Partner, target apitest.Member, inviteID string) apitest.Response
	}
	ops := []op{
		{"list-members", func(tok string, _ apitest.Partner, _ apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodGet, "/v1/workspace/members", tok, nil)
		}},
		{"update-member", func(tok string, _ apitest.Partner, m apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodPatch, "/v1/workspace/members/"+m.UserID, tok, map[string]any{"role": "finance"})
		}},
		{"remove-member", func(tok string, _ apitest.Partner, m apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodDelete, "/v1/workspace/members/"+m.UserID, tok, nil)
		}},
		{"create-invite", func(tok string, w apitest.Partner, _ apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodPost, "/v1/workspace/invites", tok, map[string]any{"email": "new-" + w.WorkspaceID + "@example.com", "role": "developer"})
		}},
		{"list-invites", func(tok string, _ apitest.Partner, _ apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodGet, "/v1/workspace/invites", tok, nil)
		}},
		{"revoke-invite", func(tok string, _ apitest.Partner, _ apitest.Member, id string) apitest.Response {
			return env.Do(http.MethodDelete, "/v1/workspace/invites/"+id, tok, nil)
		}},
		{"get-me", func(tok string, _ apitest.Partner, _ apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodGet, "/v1/me", tok, nil)
		}},
		{"logout", func(tok string, _ apitest.Partner, _ apitest.Member, _ string) apitest.Response {
			return env.Do(http.MethodPost, "/v1/auth/logout", tok, nil)
		}},
	}
	roles := []string{"owner", "developer", "finance", "admin", "anonymous"}
	// want[op] lists the status per role, in the order of roles.
	want := map[string][5]int{
		"list-members":  {200, 200, 200, 403, 401},
		"update-member": {200, 403, 403, 403, 401},
		"remove-member": {204, 403, 403, 403, 401},
		"create-invite": {201, 403, 403, 403, 401},
		"list-invites":  {200, 200, 200, 403, 401},
		"revoke-invite": {204, 403, 403, 403, 401},
		"get-me":        {200, 200, 200, 200, 401},
		"logout":        {204, 204, 204, 204, 401},
	}
	require.Len(t, want, len(ops))

	for _, o := range ops {
		for ri, role := range roles {
			t.Run(fmt.Sprintf("%s/%s", o.name, role), func(t *testing.T) {
				w := env.NewWorkspace("Matrix " + o.name + " " + role)
				target := env.AddMember(w.WorkspaceID, "developer")
				inv := env.Do(http.MethodPost, "/v1/workspace/invites", w.Token, map[string]any{"email": "pending-" + w.WorkspaceID + "@example.com", "role": "finance"})
				require.Equal(t, http.StatusCreated, inv.Status, "%s", inv.Body)
				inviteID := inv.JSON(t)["id"].(string)

				token := ""
				switch role {
				case "owner":
					token = w.Token
				case "developer", "finance":
					token = env.AddMember(w.WorkspaceID, role).Token
				case "admin":
					if o.name == "logout" {
						token = env.AdminSession() // keep the shared admin session alive
					} else {
						token = adminToken
					}
				}
				res := o.call(token, w, target, inviteID)
				assert.Equal(t, want[o.name][ri], res.Status, "%s as %s: %s", o.name, role, res.Body)
				if res.Status == http.StatusForbidden {
					assert.NotEmpty(t, res.JSON(t)["detail"], "a denial says why")
				}
			})
		}
	}
}
