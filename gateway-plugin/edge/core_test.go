package edge_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/policies"
)

const (
	sandboxURL = "http://sandbox.internal:8081"
	liveURL    = "https://live.internal"
)

// fakeAuthorizer mirrors the shape of the edge policy: a role and environments per route,
// and suspended partners denied. It records the inputs it was asked about.
type fakeAuthorizer struct {
	err    error
	mu     sync.Mutex
	inputs []policies.EdgeInput
}

var fakeRoutes = map[string]struct {
	role string
	envs []string
}{
	"catalog.list":     {"catalog:read", []string{"test", "live"}},
	"orders.create":    {"orders:write", []string{"test", "live"}},
	"orders.get":       {"orders:read", []string{"test", "live"}},
	"balance.get":      {"balance:read", []string{"test", "live"}},
	"settlements.list": {"finance:read", []string{"live"}},
	"sandbox.simulate": {"orders:write", []string{"test"}},
}

func (f *fakeAuthorizer) DecideEdge(_ context.Context, in policies.EdgeInput) (policies.Decision, error) {
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.mu.Unlock()
	if f.err != nil {
		return policies.Decision{}, f.err
	}
	if in.PartnerStatus != "active" {
		return policies.Decision{Code: "partner_suspended", Reason: "partner is suspended"}, nil
	}
	rt, ok := fakeRoutes[in.Route]
	if !ok || !slices.Contains(rt.envs, in.Environment) || !slices.Contains(in.Roles, rt.role) {
		return policies.Decision{Code: "forbidden_by_policy", Reason: "denied"}, nil
	}
	return policies.Decision{Allow: true}, nil
}

func newCore(t testing.TB, fx *edgetest.Fixture, authz edge.Authorizer) *edge.Core {
	t.Helper()
	core, err := edge.New(edge.Config{
		Keys: fx.Table, Authorizer: authz, SandboxUpstream: sandboxURL, LiveUpstream: liveURL,
		Clock: fx.Clock(), Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer(),
	})
	require.NoError(t, err)
	return core
}

func requestFor(c edgetest.Case) *edge.Request {
	return &edge.Request{
		Method: c.Method, Path: c.Path, Authorization: c.Authorization, APIKey: c.APIKey,
		ClientAddr: c.ClientIP, UserAgent: "edge-test", RequestID: "req_" + c.Name,
		ClientRequestID: edge.ClientRequestID(c.ClientRequestID), RequestBytes: int64(len(c.Body)),
	}
}

// checkOutcome asserts a core outcome against a decision-table row.
func checkOutcome(t *testing.T, fx *edgetest.Fixture, c edgetest.Case, out edge.Outcome) {
	t.Helper()
	assert.Equal(t, "req_"+c.Name, out.RequestID)
	assert.Equal(t, c.Want.ClientRequestID, out.ClientRequestID)
	if c.Want.KeyName != "" {
		assert.Equal(t, edgetest.KeyID(c.Want.KeyName), out.Identity.KeyID)
		assert.Equal(t, c.Want.PartnerID, out.Identity.PartnerID)
	} else {
		assert.Empty(t, out.Identity.KeyID)
	}
	if c.Want.Code != "" {
		assert.False(t, out.Allowed)
		assert.Equal(t, c.Want.Status, out.Status)
		assert.Equal(t, c.Want.Code, out.Code)
		assert.Nil(t, out.Upstream)
		assert.Empty(t, out.Signature, "a denied request is not signed")
		return
	}
	require.True(t, out.Allowed, "denied with %s: %s", out.Code, out.Detail)
	assert.Equal(t, c.Want.Environment, out.Identity.Environment)
	want := map[edgetest.Upstream]string{edgetest.Sandbox: sandboxURL, edgetest.Live: liveURL}[c.Want.Upstream]
	assert.Equal(t, want, out.Upstream.String())
	headers := out.UpstreamHeaders()
	// The signature covers exactly this request's identity, signed at the core's clock.
	signed := edgesign.Identity{
		Method: c.Method, Path: c.Path, RequestID: out.RequestID, PartnerID: c.Want.PartnerID,
		WorkspaceID: edgetest.WorkspaceID, Environment: string(c.Want.Environment), KeyID: edgetest.KeyID(c.Want.KeyName),
	}
	require.NoError(t, edgetest.Verifier(fx.Clock()).Verify(&signed, out.Signature))
	assert.Equal(t, [7]edge.Header{
		{Name: "X-Request-Id", Value: out.RequestID},
		{Name: "X-Client-Request-Id", Value: c.Want.ClientRequestID},
		{Name: "X-Steller-Partner-Id", Value: c.Want.PartnerID},
		{Name: "X-Steller-Workspace-Id", Value: edgetest.WorkspaceID},
		{Name: "X-Steller-Environment", Value: string(c.Want.Environment)},
		{Name: "X-Steller-Key-Id", Value: edgetest.KeyID(c.Want.KeyName)},
		{Name: "X-Steller-Signature", Value: out.Signature},
	}, headers)
}

func TestDecisionTableWithFakeAuthorizer(t *testing.T) {
	t.Parallel()
	fx := edgetest.New(edgetest.FixedNow())
	core := newCore(t, fx, &fakeAuthorizer{})
	for _, c := range fx.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			checkOutcome(t, fx, c, core.Decide(context.Background(), requestFor(c)))
		})
	}
}

func TestDecisionTableWithPolicyEngine(t *testing.T) {
	t.Parallel()
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	fx := edgetest.New(edgetest.FixedNow())
	core := newCore(t, fx, engine)
	for _, c := range fx.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			checkOutcome(t, fx, c, core.Decide(context.Background(), requestFor(c)))
		})
	}
}

func TestPolicyErrorFailsClosed(t *testing.T) {
	t.Parallel()
	fx := edgetest.New(edgetest.FixedNow())
	core := newCore(t, fx, &fakeAuthorizer{err: errors.New("boom")})
	out := core.Decide(context.Background(), &edge.Request{
		Method: "GET", Path: "/v1/catalog", Authorization: "Bearer " + fx.Secret(edgetest.KeyTestFull),
		ClientAddr: edgetest.HarnessClientIP, RequestID: "req_1",
	})
	assert.False(t, out.Allowed)
	assert.Equal(t, 503, out.Status)
	assert.Equal(t, edge.CodePolicyError, out.Code)
	assert.JSONEq(t, `{"type":"https://steller.dev/docs/errors#policy_error","title":"Authorization unavailable",
		"status":503,"detail":"The request could not be authorized right now; retry later.",
		"code":"policy_error","request_id":"req_1"}`, string(out.ProblemJSON()))
}

func TestAuthorizerInput(t *testing.T) {
	t.Parallel()
	fx := edgetest.New(edgetest.FixedNow())
	authz := &fakeAuthorizer{}
	core := newCore(t, fx, authz)
	out := core.Decide(context.Background(), &edge.Request{
		Method: "POST", Path: "/v1/sandbox/fail-next-order", APIKey: fx.Secret(edgetest.KeyTestFull),
		ClientAddr: netip.MustParseAddr("::ffff:10.10.10.1"), RequestID: "req_2",
	})
	require.True(t, out.Allowed)
	assert.Equal(t, "sandbox.simulate", out.Route)
	require.Len(t, authz.inputs, 1)
	assert.Equal(t, policies.EdgeInput{
		Method: "POST", Path: "/v1/sandbox/fail-next-order", Route: "sandbox.simulate", Environment: "test",
		Roles: []string{"balance:read", "catalog:read", "orders:read", "orders:write"}, PartnerID: edgetest.PartnerActive, PartnerStatus: "active",
	}, authz.inputs[0])
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := edge.New(edge.Config{SandboxUpstream: "not a url", LiveUpstream: "ftp://x", Routes: []edge.Route{{Name: "x", Method: "GET", Pattern: "/a/*/b"}}})
	require.Error(t, err)
	for _, want := range []string{"Keys", "Authorizer", "Logger", "Signer", "SandboxUpstream", "LiveUpstream", "* must be the last"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestEventForAllowedAndDenied(t *testing.T) {
	t.Parallel()
	fx := edgetest.New(edgetest.FixedNow())
	core := newCore(t, fx, &fakeAuthorizer{})
	req := &edge.Request{
		Method: "GET", Path: "/v1/balance", Authorization: "Bearer " + fx.Secret(edgetest.KeyLiveFull),
		ClientAddr: netip.MustParseAddr("2001:db8:10::7"), UserAgent: "sdk/1.0", RequestID: "req_ok", ClientRequestID: "client-7", RequestBytes: 0,
	}
	out := core.Decide(context.Background(), req)
	require.True(t, out.Allowed)
	e := edge.NewEvent(req, &out, edge.Result{Status: 200, ResponseBytes: 321, Total: 5_500_000, Upstream: 5_000_000})
	assert.Equal(t, requestlog.Event{
		SchemaVersion: 1, RequestID: "req_ok", ClientRequestID: "client-7", TimestampMs: fx.Now.UnixMilli(),
		PartnerID: edgetest.PartnerActive, WorkspaceID: edgetest.WorkspaceID, KeyID: "key_live_full", Environment: "live",
		Method: "GET", Path: "/v1/balance", Route: "balance.get", Status: 200,
		LatencyTotalUs: 5500, LatencyUpstreamUs: 5000, LatencyEdgeUs: 500,
		ClientIP: "2001:db8:10::7", UserAgent: "sdk/1.0", ResponseBytes: 321, Decision: "allow",
	}, e)

	req.Authorization = "Bearer " + fx.Secret(edgetest.KeyRevoked)
	req.ClientAddr = netip.MustParseAddr("::ffff:10.10.10.1")
	out = core.Decide(context.Background(), req)
	e = edge.NewEvent(req, &out, edge.Result{Status: out.Status, ResponseBytes: 200, Total: 40_000})
	assert.Equal(t, "deny", e.Decision)
	assert.Equal(t, "key_revoked", e.DenialCode)
	assert.Equal(t, 401, e.Status)
	assert.Equal(t, "key_revoked", e.KeyID)
	assert.Equal(t, "10.10.10.1", e.ClientIP)
	assert.Equal(t, int64(40), e.LatencyEdgeUs)
	assert.Equal(t, keyformat.Test, out.Identity.Environment)
}
