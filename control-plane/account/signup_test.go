package account_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
	"github.com/steller/platform/control-plane/fault"
)

func TestSignupCreatesEverythingInOneGo(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	res := env.Do(http.MethodPost, "/v1/public/signup", "", map[string]any{
		"company": "  Giftly  ", "name": "Grace", "email": "grace@giftly.example",
		"password": apitest.Password, "referral_code": "REF-42",
	})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	body := res.JSON(t)
	partnerID := body["partner"].(map[string]any)["id"].(string)
	workspaceID := body["workspace"].(map[string]any)["id"].(string)
	userID := body["user"].(map[string]any)["id"].(string)
	assert.Equal(t, "owner", body["role"])
	assert.EqualValues(t, account.SandboxStartingBalanceCents, body["sandbox"].(map[string]any)["balance_cents"])
	assert.NotEmpty(t, body["api_key"].(map[string]any)["secret"])
	assert.True(t, strings.HasPrefix(body["session"].(map[string]any)["token"].(string), "sts_"))

	ctx := context.Background()
	var company, referral string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT company, signup_referral_code FROM partners WHERE id = $1`, partnerID).Scan(&company, &referral))
	assert.Equal(t, "Giftly", company)
	assert.Equal(t, "REF-42", referral)
	var role string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
WHERE m.user_id = $1 AND w.id = $2 AND w.partner_id = $3`, userID, workspaceID, partnerID).Scan(&role))
	assert.Equal(t, "owner", role)
	var balance int64
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT balance_cents FROM sandbox_accounts WHERE partner_id = $1`, partnerID).Scan(&balance))
	assert.EqualValues(t, account.SandboxStartingBalanceCents, balance)
	var milestone string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT milestone FROM onboarding_milestones WHERE partner_id = $1`, partnerID).Scan(&milestone))
	assert.Equal(t, account.MilestoneSignedUp, milestone)
	var keys int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE partner_id = $1 AND environment = 'test' AND created_by = $2`, partnerID, userID).Scan(&keys))
	assert.Equal(t, 1, keys)
	var hash string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, userID).Scan(&hash))
	assert.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$"), hash)
	assert.Equal(t, 1, env.Count("sessions"))
	assert.Equal(t, 1, env.Count("audit_log"))
}

// tableCounts are the rows signup writes; a failed signup must leave them all unchanged.
var signupTables = []string{"partners", "workspaces", "users", "memberships", "sandbox_accounts", "onboarding_milestones", "api_keys", "sessions", "audit_log"}

func counts(env *apitest.Env) map[string]int {
	out := map[string]int{}
	for _, table := range signupTables {
		out[table] = env.Count(table)
	}
	return out
}

func TestSignupRejectsBadInputWritingNothing(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *api.Config) { c.MaxBodyBytes = 4096 })
	env.Signup("Taken")
	var taken string
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT email FROM users LIMIT 1`).Scan(&taken))
	valid := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"company": "New Co", "name": "Nia", "email": "nia@new.example", "password": apitest.Password}
		edit(m)
		return m
	}
	cases := []struct {
		name     string
		body     any
		status   int
		location string
		detail   string
	}{
		{"malformed JSON", `{"company": "x",`, http.StatusBadRequest, "", ""},
		{"not an object", `[1,2]`, http.StatusUnprocessableEntity, "body", ""},
		{"unknown field", valid(func(m map[string]any) { m["is_admin"] = true }), http.StatusUnprocessableEntity, "body.is_admin", ""},
		{"missing email", valid(func(m map[string]any) { delete(m, "email") }), http.StatusUnprocessableEntity, "body", ""},
		{"bad email", valid(func(m map[string]any) { m["email"] = "not-an-email" }), http.StatusUnprocessableEntity, "body.email", ""},
		{"blank company", valid(func(m map[string]any) { m["company"] = "   " }), http.StatusUnprocessableEntity, "body.company", ""},
		{"short password", valid(func(m map[string]any) { m["password"] = "Short-1" }), http.StatusUnprocessableEntity, "body.password", "too short"},
		{"one class password", valid(func(m map[string]any) { m["password"] = "abcdefghijklmnop" }), http.StatusUnprocessableEntity, "body.password", "too simple"},
		{"repetitive password", valid(func(m map[string]any) { m["password"] = "aaaaaaaaaaaa1" }), http.StatusUnprocessableEntity, "body.password", "too few"},
		{"common password", valid(func(m map[string]any) { m["password"] = "Password1234" }), http.StatusUnprocessableEntity, "body.password", "too common"},
		{"password has email", valid(func(m map[string]any) { m["password"] = "xx-nia@new-Zz9" }), http.StatusUnprocessableEntity, "body.password", "e-mail"},
		{"oversized body", valid(func(m map[string]any) { m["company"] = strings.Repeat("x", 8000) }), http.StatusRequestEntityTooLarge, "", ""},
		{"duplicate email", valid(func(m map[string]any) { m["email"] = strings.ToUpper(taken) }), http.StatusConflict, "", "already exists"},
		{"duplicate mailbox in display-name form", valid(func(m map[string]any) { m["email"] = "Taken <" + taken + ">" }), http.StatusUnprocessableEntity, "body.email", ""},
		{"control character in the name", valid(func(m map[string]any) { m["name"] = "Nia\u0007" }), http.StatusUnprocessableEntity, "body.name", ""},
		{"newline in the company", valid(func(m map[string]any) { m["company"] = "New\nCo" }), http.StatusUnprocessableEntity, "body.company", ""},
	}
	before := counts(env)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := env.Do(http.MethodPost, "/v1/public/signup", "", tc.body)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
			prob := res.JSON(t)
			assert.NotEmpty(t, prob["request_id"])
			assert.NotEmpty(t, prob["detail"])
			if tc.location != "" {
				errs, _ := prob["errors"].([]any)
				require.NotEmpty(t, errs, "%s", res.Body)
				assert.Equal(t, tc.location, errs[0].(map[string]any)["location"], "%s", res.Body)
			}
			if tc.detail != "" {
				assert.Contains(t, prob["detail"], tc.detail)
			}
			assert.NotContains(t, string(res.Body), "Short-1", "a password is never echoed")
		})
	}
	assert.Equal(t, before, counts(env), "no failed signup wrote anything")
}

func TestLogin(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := env.Signup("Login Co")
	cases := []struct {
		name, email, password, workspace string
		status                           int
	}{
		{"right password", p.OwnerEmail, apitest.Password, "", http.StatusOK},
		{"e-mail in other case", strings.ToUpper(p.OwnerEmail), apitest.Password, "", http.StatusOK},
		{"explicit workspace", p.OwnerEmail, apitest.Password, p.WorkspaceID, http.StatusOK},
		{"foreign workspace", p.OwnerEmail, apitest.Password, "ws_nope", http.StatusForbidden},
		{"wrong password", p.OwnerEmail, apitest.Password + "x", "", http.StatusUnauthorized},
		{"unknown user", "nobody@example.com", apitest.Password, "", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := map[string]any{"email": tc.email, "password": tc.password}
			if tc.workspace != "" {
				body["workspace_id"] = tc.workspace
			}
			res := env.Do(http.MethodPost, "/v1/auth/login", "", body)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			if tc.status == http.StatusUnauthorized {
				assert.Equal(t, "the e-mail address or password is wrong", res.JSON(t)["detail"], "one answer whether or not the user exists")
				return
			}
			if tc.status != http.StatusOK {
				return
			}
			token := res.JSON(t)["session"].(map[string]any)["token"].(string)
			me := env.Do(http.MethodGet, "/v1/me", token, nil)
			require.Equal(t, http.StatusOK, me.Status)
			assert.Equal(t, p.WorkspaceID, me.JSON(t)["workspace"].(map[string]any)["id"])
		})
	}
}

func TestSessionsExpireAndPartnerUsersAreNoAdmins(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *api.Config) { c.SessionTTL = time.Hour })
	p := env.Signup("Expiring Co")
	require.Equal(t, http.StatusOK, env.Do(http.MethodGet, "/v1/me", p.Token, nil).Status)
	// A partner user's password does not open the admin door.
	res := env.Do(http.MethodPost, "/v1/admin/auth/login", "", map[string]any{"email": p.OwnerEmail, "password": apitest.Password})
	assert.Equal(t, http.StatusUnauthorized, res.Status)
	env.Clock.Advance(time.Hour + time.Second)
	assert.Equal(t, http.StatusUnauthorized, env.Do(http.MethodGet, "/v1/me", p.Token, nil).Status)
}

func TestAdmins(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	token := env.AdminSession()
	res := env.Do(http.MethodGet, "/v1/me", token, nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	me := res.JSON(t)
	assert.Equal(t, "admin", me["kind"])
	assert.NotNil(t, me["admin"])
	assert.Nil(t, me["partner"])

	ctx := context.Background()
	cases := []struct {
		name, email, adminName, password string
		wantErr                          string
	}{
		{"weak password", "a@steller.example", "A", "short", "too short"},
		{"bad email", "nope", "A", apitest.Password, "e-mail"},
		{"blank name", "b@steller.example", " ", apitest.Password, "blank"},
	}
	for _, tc := range cases {
		_, err := account.CreateAdmin(ctx, env.Pool, tc.email, tc.adminName, tc.password)
		assert.ErrorContains(t, err, tc.wantErr, tc.name)
	}
	_, err := account.CreateAdmin(ctx, env.Pool, "dup@steller.example", "Dup", apitest.Password)
	require.NoError(t, err)
	_, err = account.CreateAdmin(ctx, env.Pool, "DUP@steller.example", "Dup", apitest.Password)
	assert.ErrorContains(t, err, "already exists")
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *api.Config) {
		c.SignupLimit = api.RateLimit{Requests: 2, Per: time.Hour}
		c.LoginLimit = api.RateLimit{Requests: 3, Per: time.Minute}
	})
	bad := map[string]any{"company": "x", "name": "y", "email": "bad", "password": "z"}
	for range 2 {
		assert.Equal(t, http.StatusUnprocessableEntity, env.Do(http.MethodPost, "/v1/public/signup", "", bad).Status)
	}
	res := env.Do(http.MethodPost, "/v1/public/signup", "", bad)
	require.Equal(t, http.StatusTooManyRequests, res.Status)
	assert.Equal(t, "3600", res.Header.Get("Retry-After"))
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))

	login := map[string]any{"email": "who@example.com", "password": "whatever-it-is"}
	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, env.Do(http.MethodPost, "/v1/auth/login", "", login).Status)
	}
	res = env.Do(http.MethodPost, "/v1/auth/login", "", login)
	require.Equal(t, http.StatusTooManyRequests, res.Status)
	assert.Equal(t, "60", res.Header.Get("Retry-After"))
	// Other operations are not limited.
	assert.Equal(t, http.StatusUnauthorized, env.Do(http.MethodGet, "/v1/me", "", nil).Status)
	// The window passes.
	env.Clock.Advance(time.Minute)
	assert.Equal(t, http.StatusUnauthorized, env.Do(http.MethodPost, "/v1/auth/login", "", login).Status)
}

// TestSignupRulesHoldInProcess: the portal calls the service without the API's schema, and
// meets the same rules: plain names, one spelling per mailbox.
func TestSignupRulesHoldInProcess(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	req := account.SignupRequest{Company: "Tab\tCo", Name: "Nia", Email: "nia@tab.example", Password: apitest.Password}
	_, err := env.API.Accounts().Signup(ctx, req)
	require.ErrorIs(t, err, fault.ErrValidation)
	req.Company, req.Email = "Tab Co", "Nia <nia@tab.example>"
	_, err = env.API.Accounts().Signup(ctx, req)
	require.ErrorIs(t, err, fault.ErrValidation)
	req.Email = "nia@TAB.Example"
	_, err = env.API.Accounts().Signup(ctx, req)
	require.NoError(t, err)
	var stored string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT email FROM users WHERE email = 'nia@tab.example'`).Scan(&stored))
	assert.Equal(t, "nia@tab.example", stored, "the domain is stored in lower case")
}
