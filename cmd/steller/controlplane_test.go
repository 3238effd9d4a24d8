package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/policy"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/testenv"
)

// call sends a JSON request with an optional bearer token and decodes the JSON answer.
func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		raw, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

// TestWholeControlPlaneOverHTTP runs the control plane exactly as `steller control-plane`
// wires it, on real PostgreSQL, ClickHouse and Kafka, and walks a partner's first steps
// with a real edge sync client attached: signup, the sandbox key at the edge, a key made
// through the API, an admin suspension reaching the edge, and the policy bundle.
func TestWholeControlPlaneOverHTTP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.DiscardHandler)
	pgURL := testenv.PostgresURL(t)
	ch := testenv.NewClickHouse(t)
	kafka := testenv.NewKafka(t)
	const edgeToken = "test-edge-token-0123456789"
	c := config.Config{
		PostgresURL: pgURL, ClickHouseAddr: ch.Addr, ClickHouseDatabase: ch.Database, ClickHouseUser: "default",
		KafkaBrokers: kafka.Brokers, ControlPlaneAddr: "127.0.0.1:0", ControlPlaneOpsAddr: "127.0.0.1:0",
		ShutdownTimeout: 5 * time.Second, EdgeTokens: []string{edgeToken},
	}
	cp, err := newControlPlane(ctx, c, logger)
	require.NoError(t, err)
	defer cp.Close()
	_, err = migration.Up(ctx, cp.pool, logger)
	require.NoError(t, err)
	// River's tables too, as `steller migrate` makes them: signup queues its milestone job.
	require.NoError(t, webhook.MigrateQueue(ctx, cp.pool))
	done := make(chan error, 1)
	go func() { done <- cp.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base := cp.URL()

	// Docs, the OpenAPI documents and the reference's downloads, served with no internet.
	for _, path := range append([]string{"/openapi.json", "/docs/api", "/", "/docs/quickstart", portal.LLMsPath, "/healthz"}, api.Downloads()...) {
		assert.Equal(t, http.StatusOK, call(t, http.MethodGet, base+path, "", nil, nil), path)
	}

	// Signup returns a sandbox key once, and a session.
	var signup account.SignupBody
	status := call(t, http.MethodPost, base+"/v1/public/signup", "", map[string]string{
		"company": "Acme Gifts", "name": "Ada", "email": "ada@acme.example", "password": "correct-Horse-battery-9",
	}, &signup)
	require.Equal(t, http.StatusCreated, status, "%+v", signup)
	require.True(t, strings.HasPrefix(signup.APIKey.Secret, "sk_test_"))
	session := signup.Session.Token
	require.NotEmpty(t, session)

	// An edge attached to the control plane finds the sandbox key.
	client, err := edgesync.NewClient(edgesync.ClientConfig{BaseURL: base, Token: edgeToken, Logger: logger, Wait: 2 * time.Second})
	require.NoError(t, err)
	go func() { _ = client.Run(ctx) }()
	sandboxHash := keyformat.HashOf(signup.APIKey.Secret)
	require.Eventually(t, func() bool { _, ok := client.Lookup(sandboxHash); return ok }, 10*time.Second, 20*time.Millisecond)

	// A key created through the API reaches the edge; revoking it reaches it within a second.
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	status = call(t, http.MethodPost, base+"/v1/keys", session, map[string]any{
		"name": "ci", "environment": "test", "roles": []string{"catalog:read"}, "allowed_cidrs": []string{"2001:db8::/32"},
	}, &created)
	require.Equal(t, http.StatusCreated, status, "%+v", created)
	hash := keyformat.HashOf(created.Secret)
	require.Eventually(t, func() bool { _, ok := client.Lookup(hash); return ok }, 5*time.Second, 10*time.Millisecond)
	revokedAt := time.Now()
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, base+"/v1/keys/"+created.ID+"/revoke", session, nil, nil))
	require.Eventually(t, func() bool {
		rec, ok := client.Lookup(hash)
		return ok && rec.Key.Status == edgewire.KeyRevoked
	}, time.Second, 5*time.Millisecond, "revocation did not reach the edge within a second")
	t.Logf("revocation reached the edge in %s", time.Since(revokedAt))

	// A platform admin suspends the partner; the edge learns it.
	_, err = account.CreateAdmin(ctx, cp.pool, "ops@steller.example", "Ops", "Platform-admin-pass-1")
	require.NoError(t, err)
	var adminLogin account.LoginBody
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, base+"/v1/admin/auth/login", "", map[string]string{
		"email": "ops@steller.example", "password": "Platform-admin-pass-1",
	}, &adminLogin))
	admin := adminLogin.Session.Token

	// Going live: the owner asks, the admin reads the readiness report (from ClickHouse's
	// request logs and PostgreSQL) and approves, and the partner may create live keys.
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	var asked struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, base+"/v1/live-requests", session, map[string]any{
		"legal_name": "Acme Gifts Inc.", "website": "https://acme.example", "country": "US",
		"expected_monthly_volume_cents": 1_000_000, "use_case": "Rewards for the staff of our business customers.",
	}, &asked))
	var reviewed struct {
		Readiness struct {
			Checks []struct {
				Name, Verdict string
			} `json:"checks"`
		} `json:"readiness"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/v1/admin/live-requests/"+asked.ID, admin, nil, &reviewed))
	require.Len(t, reviewed.Readiness.Checks, 5)
	for _, c := range reviewed.Readiness.Checks {
		assert.NotEqual(t, "unknown", c.Verdict, "%s: the wired control plane reads ClickHouse", c.Name)
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, base+"/v1/admin/live-requests/"+asked.ID+"/approve", admin, nil, nil))
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, base+"/v1/keys", session, map[string]any{
		"name": "live", "environment": "live", "roles": []string{"catalog:read"},
	}, nil))

	require.Equal(t, http.StatusOK, call(t, http.MethodPost, base+"/v1/admin/partners/"+signup.Partner.ID+"/suspend", admin,
		map[string]string{"reason": "test"}, nil))
	require.Eventually(t, func() bool {
		rec, ok := client.Lookup(sandboxHash)
		return ok && rec.PartnerStatus == edgewire.PartnerSuspended
	}, time.Second, 5*time.Millisecond, "suspension did not reach the edge within a second")

	// A partner session cannot reach admin paths; the admin reads the audit trail.
	assert.Equal(t, http.StatusForbidden, call(t, http.MethodGet, base+"/v1/admin/partners", session, nil, nil))
	assert.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/v1/admin/audit", admin, nil, nil))

	// Edges fetch the policy bundle with the edge token, and only with it.
	assert.Equal(t, http.StatusUnauthorized, call(t, http.MethodGet, base+policy.BundlePath, "", nil, nil))
	assert.Equal(t, http.StatusOK, call(t, http.MethodGet, base+policy.BundlePath, edgeToken, nil, nil))
}
