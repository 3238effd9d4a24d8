package workspace_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api/apitest"
)

func TestListMembersPaginates(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := env.Signup("Paging Co")
	for range 4 {
		env.AddMember(p.WorkspaceID, "developer")
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		path := "/v1/workspace/members?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		res := env.Do(http.MethodGet, path, p.Token, nil)
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
		body := res.JSON(t)
		members := body["members"].([]any)
		assert.LessOrEqual(t, len(members), 2)
		for _, m := range members {
			id := m.(map[string]any)["user_id"].(string)
			assert.False(t, seen[id], "member %s on two pages", id)
			seen[id] = true
		}
		pages++
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Len(t, seen, 5)
	assert.Equal(t, 3, pages)
	assert.True(t, seen[p.OwnerID])

	for _, bad := range []string{"not-base64!", "bm9waXBl", "MjAyNi0wMS0wMVQwMDowMDowMFp8"} {
		res := env.Do(http.MethodGet, "/v1/workspace/members?cursor="+bad, p.Token, nil)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "cursor %q: %s", bad, res.Body)
		assert.Equal(t, "query.cursor", res.JSON(t)["errors"].([]any)[0].(map[string]any)["location"])
	}
	for _, limit := range []string{"0", "201", "x"} {
		res := env.Do(http.MethodGet, "/v1/workspace/members?limit="+limit, p.Token, nil)
		assert.Equal(t, http.StatusUnprocessableEntity, res.Status, "limit %s", limit)
	}
}

func TestChangeRoleAndRemove(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := env.Signup("Roles Co")
	dev := env.AddMember(p.WorkspaceID, "developer")

	res := env.Do(http.MethodPatch, "/v1/workspace/members/"+dev.UserID, p.Token, map[string]any{"role": "finance"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	assert.Equal(t, "finance", res.JSON(t)["role"])
	// The new role applies to the member's existing session at once.
	me := env.Do(http.MethodGet, "/v1/me", dev.Token, nil)
	assert.Equal(t, "finance", me.JSON(t)["role"])

	res = env.Do(http.MethodPatch, "/v1/workspace/members/"+dev.UserID, p.Token, map[string]any{"role": "admin"})
	assert.Equal(t, http.StatusUnprocessableEntity, res.Status, "roles are an enum")

	res = env.Do(http.MethodDelete, "/v1/workspace/members/"+dev.UserID, p.Token, nil)
	require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Body)
	assert.Equal(t, http.StatusUnauthorized, env.Do(http.MethodGet, "/v1/me", dev.Token, nil).Status, "a removed member's session ends")
	assert.Equal(t, http.StatusNotFound, env.Do(http.MethodDelete, "/v1/workspace/members/"+dev.UserID, p.Token, nil).Status)

	var actions []string
	rows, err := env.Pool.Query(context.Background(), `SELECT action FROM audit_log WHERE target = $1 ORDER BY id`, dev.UserID)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"member.role_changed", "member.removed"}, actions)
}

func TestLastOwnerCannotLeave(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := env.Signup("Solo Co")
	cases := []struct {
		name, method string
		body         any
	}{
		{"demote", http.MethodPatch, map[string]any{"role": "developer"}},
		{"remove", http.MethodDelete, nil},
	}
	for _, tc := range cases {
		res := env.Do(tc.method, "/v1/workspace/members/"+p.OwnerID, p.Token, tc.body)
		require.Equal(t, http.StatusConflict, res.Status, "%s: %s", tc.name, res.Body)
		assert.Contains(t, res.JSON(t)["detail"], "needs an owner")
	}
	// Staying owner is no demotion.
	res := env.Do(http.MethodPatch, "/v1/workspace/members/"+p.OwnerID, p.Token, map[string]any{"role": "owner"})
	assert.Equal(t, http.StatusOK, res.Status)
	// With a second owner, the first may step down.
	second := env.AddMember(p.WorkspaceID, "owner")
	res = env.Do(http.MethodPatch, "/v1/workspace/members/"+p.OwnerID, second.Token, map[string]any{"role": "developer"})
	assert.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = env.Do(http.MethodDelete, "/v1/workspace/members/"+second.UserID, second.Token, nil)
	assert.Equal(t, http.StatusConflict, res.Status, "the remaining owner cannot remove themselves")
}

// TestLastOwnerRuleUnderConcurrency: two owners demote (or remove) each other, or both
// step down, at the same moment; exactly one succeeds and the workspace keeps one owner,
// every time.
func TestLastOwnerRuleUnderConcurrency(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	modes := []struct {
		name        string
		method      string
		body        any
		self        bool
		ok          int
		loserStatus []int
	}{
		// The loser was demoted or removed first: its own right is gone (re-checked
		// under the lock), so it is refused as forbidden.
		{"demote each other", http.MethodPatch, map[string]any{"role": "developer"}, false, http.StatusOK, []int{http.StatusForbidden}},
		{"remove each other", http.MethodDelete, nil, false, http.StatusNoContent, []int{http.StatusForbidden}},
		// Both step down: the loser would leave no owner.
		{"both step down", http.MethodPatch, map[string]any{"role": "finance"}, true, http.StatusOK, []int{http.StatusConflict}},
	}
	for round := range 9 {
		mode := modes[round%len(modes)]
		p := env.Signup(fmt.Sprintf("Race %d", round))
		other := env.AddMember(p.WorkspaceID, "owner")
		type attempt struct{ token, target string }
		attempts := []attempt{{p.Token, other.UserID}, {other.Token, p.OwnerID}}
		if mode.self {
			attempts = []attempt{{p.Token, p.OwnerID}, {other.Token, other.UserID}}
		}
		statuses := make([]int, len(attempts))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, a := range attempts {
			wg.Go(func() {
				<-start
				statuses[i] = env.Do(mode.method, "/v1/workspace/members/"+a.target, a.token, mode.body).Status
			})
		}
		// Hold the workspace's lock while both requests start, so both pass
		// authorization as owners and then queue on the lock: the rule is decided
		// under it, not by luck of timing.
		tx, err := env.Pool.Begin(context.Background())
		require.NoError(t, err)
		_, err = tx.Exec(context.Background(), `SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, p.WorkspaceID)
		require.NoError(t, err)
		close(start)
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, tx.Commit(context.Background()))
		wg.Wait()
		assert.ElementsMatch(t, append([]int{mode.ok}, mode.loserStatus...), statuses, "round %d (%s)", round, mode.name)
		var owners int
		require.NoError(t, env.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'`, p.WorkspaceID).Scan(&owners))
		assert.Equal(t, 1, owners, "round %d (%s)", round, mode.name)
	}
}

// TestTenantIsolation: a member of one partner never reads or changes the other's
// members or invitations; foreign ids answer 404 and change nothing.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Signup("Tenant A")
	b := env.Signup("Tenant B")
	bDev := env.AddMember(b.WorkspaceID, "developer")
	res := env.Do(http.MethodPost, "/v1/workspace/invites", b.Token, map[string]any{"email": "new@b.example", "role": "developer"})
	require.Equal(t, http.StatusCreated, res.Status)
	bInvite := res.JSON(t)["id"].(string)

	list := env.Do(http.MethodGet, "/v1/workspace/members", a.Token, nil)
	require.Equal(t, http.StatusOK, list.Status)
	for _, m := range list.JSON(t)["members"].([]any) {
		assert.Equal(t, a.OwnerID, m.(map[string]any)["user_id"], "A lists only its own members")
	}
	invites := env.Do(http.MethodGet, "/v1/workspace/invites", a.Token, nil)
	require.Equal(t, http.StatusOK, invites.Status)
	assert.Empty(t, invites.JSON(t)["invites"])

	cases := []struct {
		name, method, path string
		body               any
	}{
		{"change B's member", http.MethodPatch, "/v1/workspace/members/" + bDev.UserID, map[string]any{"role": "owner"}},
		{"change B's owner", http.MethodPatch, "/v1/workspace/members/" + b.OwnerID, map[string]any{"role": "finance"}},
		{"remove B's member", http.MethodDelete, "/v1/workspace/members/" + bDev.UserID, nil},
		{"remove B's owner", http.MethodDelete, "/v1/workspace/members/" + b.OwnerID, nil},
		{"revoke B's invite", http.MethodDelete, "/v1/workspace/invites/" + bInvite, nil},
	}
	audits := env.Count("audit_log")
	for _, tc := range cases {
		res := env.Do(tc.method, tc.path, a.Token, tc.body)
		assert.Equal(t, http.StatusNotFound, res.Status, "%s: %s", tc.name, res.Body)
	}
	assert.Equal(t, audits, env.Count("audit_log"))
	var devRole string
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT role FROM memberships WHERE user_id = $1`, bDev.UserID).Scan(&devRole))
	assert.Equal(t, "developer", devRole)
	var revoked bool
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT revoked_at IS NOT NULL FROM invites WHERE id = $1`, bInvite).Scan(&revoked))
	assert.False(t, revoked)
	bList := env.Do(http.MethodGet, "/v1/workspace/members", b.Token, nil)
	assert.Len(t, bList.JSON(t)["members"], 2)
}
