package workspace_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
)

// invite creates an invitation through the API and returns its id and token.
func invite(t *testing.T, env *apitest.Env, token, email, role string) (string, string) {
	t.Helper()
	res := env.Do(http.MethodPost, "/v1/workspace/invites", token, map[string]any{"email": email, "role": role})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	body := res.JSON(t)
	return body["id"].(string), body["token"].(string)
}

func TestInviteAcceptedByANewUser(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := env.Signup("Invite Co")
	id, token := invite(t, env, p.Token, "dev@invite.example", "developer")
	assert.True(t, strings.HasPrefix(token, "stinv_"))

	var stored []byte
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT token_hash FROM invites WHERE id = $1`, id).Scan(&stored))
	assert.Len(t, stored, 32, "only the SHA-256 of the token is kept")
	assert.NotContains(t, string(stored), token)

	res := env.Do(http.MethodPost, "/v1/public/invites/accept", "", map[string]any{"token": token, "name": "Dev", "password": apitest.Password})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	assert.Contains(t, res.Header.Get("Set-Cookie"), "steller_session=")
	body := res.JSON(t)
	assert.Equal(t, "developer", body["role"])
	assert.Equal(t, p.WorkspaceID, body["workspace_id"])
	session := body["session"].(map[string]any)["token"].(string)
	me := env.Do(http.MethodGet, "/v1/me", session, nil)
	require.Equal(t, http.StatusOK, me.Status)
	assert.Equal(t, "dev@invite.example", me.JSON(t)["user"].(map[string]any)["email"])

	// The new user can sign in with the chosen password.
	login := env.Do(http.MethodPost, "/v1/auth/login", "", map[string]any{"email": "dev@invite.example", "password": apitest.Password})
	assert.Equal(t, http.StatusOK, login.Status)

	list := env.Do(http.MethodGet, "/v1/workspace/invites", p.Token, nil)
	require.Equal(t, http.StatusOK, list.Status)
	invites := list.JSON(t)["invites"].([]any)
	require.Len(t, invites, 1)
	assert.Equal(t, "accepted", invites[0].(map[string]any)["status"])
	assert.NotContains(t, string(list.Body), token, "tokens are never listed")
}

func TestInviteAcceptedByASignedInUser(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	a := env.Signup("Host Co")
	b := env.Signup("Guest Co")
	_, token := invite(t, env, a.Token, strings.ToUpper(b.OwnerEmail), "finance")

	// Without a session, an existing account must sign in first.
	res := env.Do(http.MethodPost, "/v1/public/invites/accept", "", map[string]any{"token": token, "name": "X", "password": apitest.Password})
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	// Someone else's session cannot take the invitation.
	stranger := env.Signup("Stranger Co")
	res = env.Do(http.MethodPost, "/v1/public/invites/accept", stranger.Token, map[string]any{"token": token})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Body)

	res = env.Do(http.MethodPost, "/v1/public/invites/accept", b.Token, map[string]any{"token": token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	assert.Equal(t, a.WorkspaceID, res.JSON(t)["workspace_id"])
	assert.Equal(t, b.OwnerID, res.JSON(t)["user_id"])
	// The user now belongs to both workspaces and signs in to either.
	login := env.Do(http.MethodPost, "/v1/auth/login", "", map[string]any{"email": b.OwnerEmail, "password": apitest.Password, "workspace_id": a.WorkspaceID})
	require.Equal(t, http.StatusOK, login.Status, "%s", login.Body)
	me := env.Do(http.MethodGet, "/v1/me", login.JSON(t)["session"].(map[string]any)["token"].(string), nil)
	assert.Equal(t, "finance", me.JSON(t)["role"])
	// Inviting a member again is a conflict.
	res = env.Do(http.MethodPost, "/v1/workspace/invites", a.Token, map[string]any{"email": b.OwnerEmail, "role": "developer"})
	assert.Equal(t, http.StatusConflict, res.Status)
}

// inviteTables are the rows an acceptance writes; a refused one must leave them as they were.
var inviteTables = []string{"users", "memberships", "sessions", "audit_log"}

func TestBadInvitationsWriteNothing(t *testing.T) {
	t.Parallel()
	// Sessions outlive the invitations here, so the owner stays signed in.
	env := apitest.New(t, func(c *api.Config) { c.SessionTTL = 30 * 24 * time.Hour })
	p := env.Signup("Strict Co")

	_, used := invite(t, env, p.Token, "used@strict.example", "developer")
	res := env.Do(http.MethodPost, "/v1/public/invites/accept", "", map[string]any{"token": used, "name": "U", "password": apitest.Password})
	require.Equal(t, http.StatusOK, res.Status)

	revokedID, revoked := invite(t, env, p.Token, "revoked@strict.example", "developer")
	require.Equal(t, http.StatusNoContent, env.Do(http.MethodDelete, "/v1/workspace/invites/"+revokedID, p.Token, nil).Status)
	require.Equal(t, http.StatusNoContent, env.Do(http.MethodDelete, "/v1/workspace/invites/"+revokedID, p.Token, nil).Status, "revoking twice changes nothing")

	_, expired := invite(t, env, p.Token, "late@strict.example", "developer")
	invite(t, env, p.Token, "weak@strict.example", "developer")
	env.Clock.Advance(7*24*time.Hour - time.Minute)
	_, fresh := invite(t, env, p.Token, "fresh@strict.example", "developer")
	env.Clock.Advance(time.Minute)

	cases := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"reused token", map[string]any{"token": used, "name": "U", "password": apitest.Password}, http.StatusGone, "already used"},
		{"revoked token", map[string]any{"token": revoked, "name": "R", "password": apitest.Password}, http.StatusGone, "revoked"},
		{"expired token", map[string]any{"token": expired, "name": "L", "password": apitest.Password}, http.StatusGone, "expired"},
		{"unknown token", map[string]any{"token": "stinv_nope", "name": "N", "password": apitest.Password}, http.StatusNotFound, "no invitation"},
		{"weak password", map[string]any{"token": fresh, "name": "W", "password": "weak"}, http.StatusUnprocessableEntity, "too short"},
		{"missing name", map[string]any{"token": fresh, "password": apitest.Password}, http.StatusUnprocessableEntity, "name is required"},
		{"unknown field", map[string]any{"token": fresh, "name": "W", "password": apitest.Password, "role": "owner"}, http.StatusUnprocessableEntity, ""},
		{"malformed JSON", `{"token":`, http.StatusBadRequest, ""},
	}
	before := map[string]int{}
	for _, table := range inviteTables {
		before[table] = env.Count(table)
	}
	for _, tc := range cases {
		res := env.Do(http.MethodPost, "/v1/public/invites/accept", "", tc.body)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"), tc.name)
		if tc.detail != "" {
			assert.Contains(t, res.JSON(t)["detail"], tc.detail, tc.name)
		}
	}
	for _, table := range inviteTables {
		assert.Equal(t, before[table], env.Count(table), "%s unchanged", table)
	}
	// The fresh invitation is still usable after the refused attempts.
	res = env.Do(http.MethodPost, "/v1/public/invites/accept", "", map[string]any{"token": fresh, "name": "Fresh", "password": apitest.Password})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)

	// Revoking an accepted invitation is a conflict.
	list := env.Do(http.MethodGet, "/v1/workspace/invites?limit=200", p.Token, nil)
	require.Equal(t, http.StatusOK, list.Status, "%s", list.Body)
	statuses := map[string]string{}
	for _, inv := range list.JSON(t)["invites"].([]any) {
		m := inv.(map[string]any)
		statuses[m["email"].(string)] = m["status"].(string)
		if m["status"] == "accepted" {
			assert.Equal(t, http.StatusConflict, env.Do(http.MethodDelete, "/v1/workspace/invites/"+m["id"].(string), p.Token, nil).Status)
		}
	}
	assert.Equal(t, map[string]string{
		"used@strict.example": "accepted", "revoked@strict.example": "revoked", "late@strict.example": "expired",
		"weak@strict.example": "expired", "fresh@strict.example": "accepted",
	}, statuses)
}

// TestInviteTokenIsSingleUseUnderConcurrency: many acceptances of one token at once
// create exactly one account.
func TestInviteTokenIsSingleUseUnderConcurrency(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := env.Signup("Once Co")
	_, token := invite(t, env, p.Token, "once@once.example", "developer")
	const n = 5
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i] = env.Do(http.MethodPost, "/v1/public/invites/accept", "", map[string]any{"token": token, "name": "O", "password": apitest.Password}).Status
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		} else {
			assert.Equal(t, http.StatusGone, s)
		}
	}
	assert.Equal(t, 1, ok, "%v", statuses)
	var users int
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE email = 'once@once.example'`).Scan(&users))
	assert.Equal(t, 1, users)
}
