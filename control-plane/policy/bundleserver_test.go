package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/policy"
	"github.com/steller/platform/internal/testenv"
	"github.com/steller/platform/policies"
)

// fetchBundle asks b for the bundle as an edge would.
func fetchBundle(t *testing.T, b http.Handler, ifNoneMatch string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, policy.BundlePath, nil)
	req.Header.Set("Authorization", "Bearer "+edgeToken)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	return rec
}

func TestBundleServerDemandsTheEdgeToken(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cases := []struct {
		name, method, auth string
		status             int
	}{
		{"no token", http.MethodGet, "", http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "Bearer not-the-token", http.StatusUnauthorized},
		{"token prefix", http.MethodGet, "Bearer " + edgeToken[:5], http.StatusUnauthorized},
		{"basic scheme", http.MethodGet, "Basic " + edgeToken, http.StatusUnauthorized},
		{"empty bearer", http.MethodGet, "Bearer ", http.StatusUnauthorized},
		{"edge token", http.MethodGet, "Bearer " + edgeToken, http.StatusOK},
		{"head with edge token", http.MethodHead, "Bearer " + edgeToken, http.StatusOK},
		{"post", http.MethodPost, "Bearer " + edgeToken, http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, policy.BundlePath, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			e.bundles.ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			if tc.status == http.StatusUnauthorized {
				assert.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
				assert.Empty(t, rec.Header().Get("ETag"), "nothing about the bundle leaks")
			}
		})
	}
}

func TestFreshInstallServesTheDefaultBundleWithETags(t *testing.T) {
	t.Parallel()
	e := setup(t)
	etag := `"` + policies.DefaultRevision() + `"`

	rec := fetchBundle(t, e.bundles, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, etag, rec.Header().Get("ETag"))
	assert.Equal(t, "application/gzip", rec.Header().Get("Content-Type"))
	assert.Equal(t, policies.DefaultRevision(), rec.Header().Get("X-Steller-Policy-Revision"))
	info, err := policies.ValidateBundle(context.Background(), bytes.NewReader(rec.Body.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, policies.DefaultRevision(), info.Revision)

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		rec := fetchBundle(t, e.bundles, inm)
		assert.Equal(t, http.StatusNotModified, rec.Code, inm)
		assert.Empty(t, rec.Body.Bytes(), inm)
		assert.Equal(t, etag, rec.Header().Get("ETag"))
	}
	assert.Equal(t, http.StatusOK, fetchBundle(t, e.bundles, `"stale"`).Code)

	// HEAD says the same without the body.
	req := httptest.NewRequest(http.MethodHead, policy.BundlePath, nil)
	req.Header.Set("Authorization", "Bearer "+edgeToken)
	head := httptest.NewRecorder()
	e.bundles.ServeHTTP(head, req)
	assert.Equal(t, etag, head.Header().Get("ETag"))
	assert.Equal(t, fmt.Sprint(rec.Body.Len()), head.Header().Get("Content-Length"))
	assert.Empty(t, head.Body.Bytes())
}

// TestEdgePollerFollowsActivationsAndRollbacks runs the whole path over real HTTP: admin
// API calls activate and roll back, and a real edge engine fed by policies.Poller
// changes its decisions accordingly.
func TestEdgePollerFollowsActivationsAndRollbacks(t *testing.T) {
	t.Parallel()
	e := setup(t)
	mux := http.NewServeMux()
	mux.Handle("/v1/", e.handler)
	mux.Handle(policy.BundlePath, e.bundles)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	logger := slog.New(slog.DiscardHandler)
	engine, err := policies.New(policies.Config{Logger: logger})
	require.NoError(t, err)
	poller, err := policies.NewPoller(policies.PollerConfig{
		Engine: engine, URL: srv.URL + policy.BundlePath, Token: edgeToken, Logger: logger, Interval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- poller.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	settlements := policies.EdgeInput{
		Method: "GET", Path: "/v1/settlements", Route: "settlements.list", Environment: "live",
		Roles: []string{"finance:read"}, PartnerID: "ptr_1", PartnerStatus: "active",
	}
	allowed := func() bool {
		d, err := engine.DecideEdge(context.Background(), settlements)
		require.NoError(t, err)
		return d.Allow
	}
	call := func(method, path string, body any) *http.Response {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(asHeader, "admin")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	uploadHTTP := func(files map[string]string) policy.Version {
		resp := call(http.MethodPost, "/v1/admin/policies", map[string]any{"files": files})
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		var v policy.Version
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		require.Equal(t, policy.StatusValid, v.Status, v.ValidationError)
		return v
	}
	serves := func(rev string) {
		t.Helper()
		require.Eventually(t, func() bool { return engine.Revision() == rev }, 5*time.Second, 10*time.Millisecond,
			"edge still runs %s, want %s", engine.Revision(), rev)
	}
	notModifiedAgain := func() {
		t.Helper()
		n := poller.Stats().NotModified
		require.Eventually(t, func() bool { return poller.Stats().NotModified >= n+2 }, 5*time.Second, 10*time.Millisecond)
	}

	// A fresh control plane serves the default: the edge keeps it and then polls 304s.
	require.Eventually(t, func() bool { return engine.ETag() == `"`+policies.DefaultRevision()+`"` }, 5*time.Second, 10*time.Millisecond)
	notModifiedAgain()
	assert.True(t, allowed())

	base := uploadHTTP(defaultFiles(t))
	deny := uploadHTTP(denySettlementsFiles(t))
	require.Equal(t, http.StatusOK, call(http.MethodPost, fmt.Sprintf("/v1/admin/policies/%d/activate", base.ID), map[string]any{"reason": "baseline"}).StatusCode)
	serves(base.Revision)
	assert.True(t, allowed())

	require.Equal(t, http.StatusOK, call(http.MethodPost, fmt.Sprintf("/v1/admin/policies/%d/activate", deny.ID), map[string]any{"reason": "freeze settlements"}).StatusCode)
	serves(deny.Revision)
	assert.Equal(t, `"`+deny.Digest+`"`, engine.ETag())
	assert.False(t, allowed(), "settlements are denied once the new version is active")
	notModifiedAgain()

	// An invalid upload changes nothing at the edge.
	bad := upload(t, e, "broken", syntaxErrorFiles(t))
	assert.Equal(t, http.StatusConflict, call(http.MethodPost, fmt.Sprintf("/v1/admin/policies/%d/activate", bad.ID), map[string]any{"reason": "oops"}).StatusCode)
	notModifiedAgain()
	assert.Equal(t, deny.Revision, engine.Revision())

	require.Equal(t, http.StatusOK, call(http.MethodPost, "/v1/admin/policies/rollback", map[string]any{"reason": "unfreeze"}).StatusCode)
	serves(base.Revision)
	assert.True(t, allowed(), "the rollback restores the decision")
	assert.Zero(t, poller.Stats().Failures, poller.Stats().LastError)
}

// TestAnotherReplicaFollowsByNotify shows a second control-plane replica (no in-process
// hook, an hour-long refresh interval) serving a new activation through LISTEN/NOTIFY.
func TestAnotherReplicaFollowsByNotify(t *testing.T) {
	t.Parallel()
	e := setup(t)
	replica, err := policy.NewBundleServer(policy.BundleServerConfig{
		Pool: e.pool, Logger: slog.New(slog.DiscardHandler), EdgeToken: edgeToken, RefreshInterval: time.Hour,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- replica.Run(ctx) }()

	require.Eventually(t, func() bool {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&n)
		return err == nil && n == 1
	}, 5*time.Second, 10*time.Millisecond, "the replica never listened")

	admin := principals["admin"]
	for _, files := range []map[string]string{defaultFiles(t), denySettlementsFiles(t)} {
		v := upload(t, e, "notify", files)
		_, err := e.svc.Activate(context.Background(), admin, v.ID, "notify")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			return fetchBundle(t, replica, "").Header().Get("ETag") == `"`+v.Digest+`"`
		}, 5*time.Second, 10*time.Millisecond, "replica did not pick up version %d", v.ID)
	}

	cancel()
	select {
	case err := <-done:
		assert.True(t, errors.Is(err, context.Canceled), "Run returned %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

// TestRoutesOnTheStandardMux registers the operations the way the control plane serves
// them (humago on net/http's ServeMux) to prove the fixed paths and {versionId} coexist.
func TestRoutesOnTheStandardMux(t *testing.T) {
	t.Parallel()
	e := setup(t)
	mux := http.NewServeMux()
	api := humago.New(mux, huma.DefaultConfig("test", "1.0.0"))
	api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), principals["admin"])))
	})
	policy.Register(api, policy.Deps{Service: e.svc, Checker: adminsOnly{}})
	mux.Handle(policy.BundlePath, e.bundles)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	v := upload(t, e, "mux", defaultFiles(t))
	for path, want := range map[string]int{
		"/v1/admin/policies/active":                http.StatusOK,
		"/v1/admin/policies/activations":           http.StatusOK,
		fmt.Sprintf("/v1/admin/policies/%d", v.ID): http.StatusOK,
		"/v1/admin/policies":                       http.StatusOK,
		"/v1/admin/policies/nope":                  http.StatusUnprocessableEntity,
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, path)
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+policy.BundlePath, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+edgeToken)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestBundleServerAcceptsEveryConfiguredTokenForRotation(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t)
	_, err := migration.Up(context.Background(), pool, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	bundles, err := policy.NewBundleServer(policy.BundleServerConfig{
		Pool: pool, Logger: slog.New(slog.DiscardHandler), EdgeToken: "old-token", MoreEdgeTokens: []string{"new-token"},
	})
	require.NoError(t, err)
	for token, want := range map[string]int{"old-token": http.StatusOK, "new-token": http.StatusOK, "other": http.StatusUnauthorized} {
		req := httptest.NewRequest(http.MethodGet, policy.BundlePath, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		bundles.ServeHTTP(w, req)
		assert.Equal(t, want, w.Code, token)
	}
}
