package kongplugin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	"github.com/Kong/go-pdk"
	"github.com/Kong/go-pdk/bridge"
	"github.com/Kong/go-pdk/bridge/bridgetest"
	"github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"github.com/Kong/go-pdk/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/gateway-plugin/kongplugin"
	"github.com/steller/platform/policies"
)

const (
	sandboxURL = "http://sandbox.internal:8081"
	liveURL    = "https://live.internal"
)

var targets = map[edgetest.Upstream]string{edgetest.Sandbox: "sandbox.internal:8081", edgetest.Live: "live.internal:443"}

type setup struct {
	fx     *edgetest.Fixture
	plugin *kongplugin.Plugin
	events *requestlog.Memory
}

// newSetup builds a Plugin whose configurations all decide against the fixture's keys and
// the real policy engine, with events recorded.
func newSetup(t testing.TB, keys func(*kongplugin.Config) edge.KeyLookup) setup {
	return newSetupMax(t, keys, 0)
}

func newSetupMax(t testing.TB, keys func(*kongplugin.Config) edge.KeyLookup, maxPending int) setup {
	t.Helper()
	fx := edgetest.New(edgetest.FixedNow())
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	events := &requestlog.Memory{}
	if keys == nil {
		keys = func(*kongplugin.Config) edge.KeyLookup { return fx.Table }
	}
	p, err := kongplugin.NewPlugin(kongplugin.Deps{
		Logger:        slog.New(slog.DiscardHandler),
		Clock:         fx.Clock(),
		NewKeys:       func(_ context.Context, c *kongplugin.Config) (edge.KeyLookup, error) { return keys(c), nil },
		NewAuthorizer: func(context.Context, *kongplugin.Config) (edge.Authorizer, error) { return engine, nil },
		NewEmitter:    func(*kongplugin.Config) (requestlog.Emitter, error) { return events, nil },
		MaxPending:    maxPending,
	})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return setup{fx: fx, plugin: p, events: events}
}

func (s setup) config(mutate func(*kongplugin.Config)) *kongplugin.Config {
	c := s.plugin.New().(*kongplugin.Config)
	c.SandboxUpstreamURL, c.LiveUpstreamURL, c.KeysFile = sandboxURL, liveURL, "fixture"
	c.EdgeSigningSecrets = []string{edgetest.SigningSecret}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func caseHeaders(c edgetest.Case) http.Header {
	h := http.Header{}
	if c.Authorization != "" {
		h.Set("Authorization", c.Authorization)
	}
	if c.APIKey != "" {
		h.Set("X-Api-Key", c.APIKey)
	}
	if c.SpoofedForwardedFor != "" {
		h.Set("X-Forwarded-For", c.SpoofedForwardedFor)
	}
	if c.Body != "" {
		h.Set("Content-Length", itoa(len(c.Body)))
	}
	if c.ClientRequestID != "" {
		h.Set("X-Request-Id", c.ClientRequestID)
	}
	h.Set("X-Client-Request-Id", "cli-impersonated") // the edge must overwrite or remove it
	h.Set("User-Agent", "kong-test")
	h.Set("X-Steller-Partner-Id", "ptr_impersonated")
	h.Set("X-Steller-Signature", "t=1,v1=forged") // the edge must overwrite it
	return h
}

// assertSigned checks that the upstream headers h carry one edge signature, valid for the
// request at the fixture's time.
func assertSigned(t *testing.T, fx *edgetest.Fixture, method, path string, h http.Header) {
	t.Helper()
	require.Len(t, h.Values(identity.HeaderSignature), 1)
	id := edgesign.FromHeaders(method, path, h)
	assert.NoError(t, edgetest.Verifier(fx.Clock()).Verify(&id, h.Get(identity.HeaderSignature)), "the upstream verifies the edge signature")
}

// edgeIDPattern is the form of an edge-minted request id (edge.NewRequestID).
const edgeIDPattern = `^req_[0-9a-f]{32}$`

// TestDecisionTableUnderHarness runs the table's rows that go-pdk's harness can express
// (client 10.10.10.1; GET/POST) through its access phase.
func TestDecisionTableUnderHarness(t *testing.T) {
	t.Parallel()
	s := newSetup(t, nil)
	cfg := s.config(nil)
	ran := 0
	for _, c := range s.fx.Cases() {
		if c.ClientIP != edgetest.HarnessClientIP || (c.Method != "GET" && c.Method != "POST") {
			continue
		}
		ran++
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			env, err := test.New(t, test.Request{Method: c.Method, Url: "http://edge.test" + c.Path, Headers: caseHeaders(c), Body: []byte(c.Body)})
			require.NoError(t, err)
			env.DoAccess(cfg)

			if c.Want.Code != "" {
				assert.Equal(t, c.Want.Status, env.ClientRes.Status)
				var p problem.Document
				require.NoError(t, json.Unmarshal(env.ClientRes.Body, &p))
				assert.Equal(t, c.Want.Code, p.Code)
				assert.Regexp(t, edgeIDPattern, p.RequestID, "the edge's own id, whatever the client sent")
				assert.Equal(t, p.RequestID, env.ClientRes.Headers.Get("X-Request-Id"))
				assert.Equal(t, problem.ContentType, env.ClientRes.Headers.Get("Content-Type"))
				ev, ok := s.events.Find(p.RequestID)
				require.True(t, ok, "denials are logged from access")
				assert.Equal(t, c.Want.ClientRequestID, ev.ClientRequestID)
				assert.Equal(t, c.Want.Code, ev.DenialCode)
				assert.Equal(t, "10.10.10.1", ev.ClientIP)
				return
			}
			assert.Equal(t, 0, env.ClientRes.Status, "no exit for an allowed request")
			h := env.ServiceReq.Headers
			assert.Empty(t, h.Values("Authorization"))
			assert.Empty(t, h.Values("X-Api-Key"))
			assert.Regexp(t, edgeIDPattern, h.Get("X-Request-Id"))
			assert.Equal(t, c.Want.ClientRequestID, h.Get("X-Client-Request-Id"))
			assert.Equal(t, []string{c.Want.PartnerID}, h.Values("X-Steller-Partner-Id"))
			assert.Equal(t, edgetest.WorkspaceID, h.Get("X-Steller-Workspace-Id"))
			assert.Equal(t, string(c.Want.Environment), h.Get("X-Steller-Environment"))
			assert.Equal(t, edgetest.KeyID(c.Want.KeyName), h.Get("X-Steller-Key-Id"))
			assertSigned(t, s.fx, c.Method, c.Path, h)
		})
	}
	require.Greater(t, ran, 15)
}

// TestDecisionTableThroughFakeKong runs every row, access and log, against a fake Kong
// that answers the PDK calls (any client address, kong.log.serialize), and checks the
// exact PDK calls made.
func TestDecisionTableThroughFakeKong(t *testing.T) {
	t.Parallel()
	s := newSetup(t, nil)
	cfg := s.config(nil)
	allowedCalls := []string{
		"kong.request.get_headers", "kong.client.get_forwarded_ip", "kong.request.get_method", "kong.request.get_path",
		"kong.service.set_target", "kong.service.request.set_headers", "kong.log.serialize",
	}
	deniedCalls := []string{
		"kong.request.get_headers", "kong.client.get_forwarded_ip", "kong.request.get_method", "kong.request.get_path",
		"kong.response.exit", "kong.log.serialize",
	}
	for _, c := range s.fx.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			kong := newFakeKong(t, c.Method, c.Path, c.ClientIP.String(), caseHeaders(c))
			cfg.Access(kong.phase())
			cfg.Log(kong.phase())

			// The edge's own id: in the problem when denied, on the upstream request when not.
			rid := kong.headers.Get("X-Request-Id")
			if c.Want.Code != "" {
				var p problem.Document
				require.NoError(t, json.Unmarshal(kong.exitBody, &p))
				rid = p.RequestID
			} else {
				assert.Equal(t, c.Want.ClientRequestID, kong.headers.Get("X-Client-Request-Id"))
			}
			assert.Regexp(t, edgeIDPattern, rid)
			ev, ok := s.events.Find(rid)
			require.True(t, ok, "one event per request")
			assert.Equal(t, c.Want.ClientRequestID, ev.ClientRequestID)
			assert.Equal(t, c.ClientIP.Unmap().String(), ev.ClientIP)
			assert.Equal(t, c.Want.Status, ev.Status)
			if c.Want.Code != "" {
				assert.Equal(t, deniedCalls, kong.Calls())
				assert.Equal(t, c.Want.Status, kong.exitStatus)
				var p problem.Document
				require.NoError(t, json.Unmarshal(kong.exitBody, &p))
				assert.Equal(t, c.Want.Code, p.Code)
				assert.Equal(t, c.Want.Code, ev.DenialCode)
				assert.Equal(t, "deny", ev.Decision)
				return
			}
			assert.Equal(t, allowedCalls, kong.Calls())
			assert.Equal(t, targets[c.Want.Upstream], kong.target)
			assert.Empty(t, kong.headers.Values("Authorization"))
			assert.Empty(t, kong.headers.Values("X-Api-Key"))
			assert.Equal(t, edgetest.KeyID(c.Want.KeyName), kong.headers.Get("X-Steller-Key-Id"))
			assert.Equal(t, []string{c.Want.PartnerID}, kong.headers.Values("X-Steller-Partner-Id"))
			assertSigned(t, s.fx, c.Method, c.Path, kong.headers)
			assert.Equal(t, "allow", ev.Decision)
			assert.Equal(t, int64(512), ev.ResponseBytes)
			assert.Equal(t, int64(12000), ev.LatencyTotalUs)
			assert.Equal(t, int64(10000), ev.LatencyUpstreamUs)
			assert.Equal(t, int64(2000), ev.LatencyEdgeUs)
			assert.Equal(t, int64(len(c.Body)), ev.RequestBytes)
			assert.Equal(t, "kong-test", ev.UserAgent)
		})
	}
}

// TestInstancesWithDifferentConfigsStayApart runs two plugin instances with different
// upstreams and key sources side by side (Kong/kong#8370, #5586).
func TestInstancesWithDifferentConfigsStayApart(t *testing.T) {
	t.Parallel()
	other := edgetest.New(edgetest.FixedNow())
	otherSnap := other.Snapshot
	otherSnap.Keys = nil
	otherTable, _ := edgesync.NewTable(otherSnap) // a key source with no keys at all
	s := newSetup(t, func(c *kongplugin.Config) edge.KeyLookup {
		if c.KeysFile == "empty" {
			return otherTable
		}
		return other.Table
	})
	a := s.config(nil)
	b := s.config(func(c *kongplugin.Config) {
		c.SandboxUpstreamURL, c.KeysFile = "http://sandbox-b.internal:9000", "empty"
	})
	secret := s.fx.Secret(edgetest.KeyTestFull)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			cfg, wantTarget := a, "sandbox.internal:8081"
			if i%2 == 1 {
				cfg, wantTarget = b, ""
			}
			h := http.Header{"Authorization": {"Bearer " + secret}}
			kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", h)
			cfg.Access(kong.phase())
			if wantTarget == "" {
				assert.Equal(t, http.StatusUnauthorized, kong.exitStatus, "config b has no keys")
			} else {
				assert.Equal(t, wantTarget, kong.target)
			}
		})
	}
	wg.Wait()
}

// panicky is a key source that panics, standing in for any bug on the request path.
type panicky struct{}

func (panicky) Lookup(keyformat.Hash) (*edgesync.Record, bool) { panic("boom") }

func TestPanicDeniesWith500AndServesNextRequest(t *testing.T) {
	t.Parallel()
	s := newSetup(t, func(*kongplugin.Config) edge.KeyLookup { return panicky{} })
	cfg := s.config(nil)
	for range 2 {
		kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", http.Header{"X-Api-Key": {s.fx.Secret(edgetest.KeyTestFull)}, "X-Request-Id": {"cli-panic"}})
		cfg.Access(kong.phase())
		assert.Equal(t, http.StatusInternalServerError, kong.exitStatus)
		var p problem.Document
		require.NoError(t, json.Unmarshal(kong.exitBody, &p))
		assert.Equal(t, edge.CodeInternal, p.Code)
		assert.Regexp(t, edgeIDPattern, p.RequestID, "the id the edge minted before the panic")
	}
}

func TestMisconfiguredDeniesWith500(t *testing.T) {
	t.Parallel()
	s := newSetup(t, nil)
	cfg := s.config(func(c *kongplugin.Config) { c.LiveUpstreamURL, c.KeysFile = "", "" })
	require.Error(t, cfg.Validate())
	kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", nil)
	cfg.Access(kong.phase())
	assert.Equal(t, http.StatusInternalServerError, kong.exitStatus)
	assert.Equal(t, []string{"kong.response.exit"}, kong.Calls())
	cfg.Log(newFakeKong(t, "GET", "/", "10.10.10.1", nil).phase()) // must not panic
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cfg := &kongplugin.Config{SandboxUpstreamURL: "ftp://x", LiveUpstreamURL: "http://live:99999", ControlPlaneURL: "http://cp", EdgeSigningSecrets: []string{"short"}}
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"sandbox_upstream_url", "live_upstream_url", "edge_token", "edge_signing_secrets"} {
		assert.ErrorContains(t, err, want)
	}
	ok := &kongplugin.Config{SandboxUpstreamURL: "http://[2001:db8::1]:8080", LiveUpstreamURL: "https://live", KeysFile: "/etc/keys.json", EdgeSigningSecrets: []string{edgetest.SigningSecret}}
	assert.NoError(t, ok.Validate())
}

func TestCustomHeaderNames(t *testing.T) {
	t.Parallel()
	s := newSetup(t, nil)
	cfg := s.config(func(c *kongplugin.Config) { c.APIKeyHeader, c.RequestIDHeader = "X-Steller-Key", "X-Correlation-Id" })
	h := http.Header{"X-Steller-Key": {s.fx.Secret(edgetest.KeyTestFull)}, "X-Correlation-Id": {"corr-1"}}
	kong := newFakeKong(t, "GET", "/v1/balance", "2001:db8::1", h)
	cfg.Access(kong.phase())
	cfg.Log(kong.phase())
	assert.Empty(t, kong.headers.Values("X-Steller-Key"))
	// The edge's id goes upstream in both headers; the client's is kept as data.
	rid := kong.headers.Get("X-Request-Id")
	assert.Regexp(t, edgeIDPattern, rid)
	assert.Equal(t, rid, kong.headers.Get("X-Correlation-Id"))
	assert.Equal(t, "corr-1", kong.headers.Get("X-Client-Request-Id"))
	ev, ok := s.events.Find(rid)
	require.True(t, ok)
	assert.Equal(t, "corr-1", ev.ClientRequestID)
	assert.Equal(t, "2001:db8::1", ev.ClientIP)
	assert.Equal(t, netip.MustParseAddr("2001:db8::1").String(), ev.ClientIP)
}

// TestScriptedPDKIPv6Denial scripts the exact PDK conversation of a denied IPv6 request
// with go-pdk's bridgetest.Mock: the harness cannot present an IPv6 client.
func TestScriptedPDKIPv6Denial(t *testing.T) {
	t.Parallel()
	s := newSetup(t, nil)
	cfg := s.config(nil)
	headers, err := bridge.WrapHeaders(map[string][]string{"authorization": {"Bearer " + s.fx.Secret(edgetest.KeyIPv6Restricted)}, "x-request-id": {"req-v6"}})
	require.NoError(t, err)
	conn := bridgetest.Mock(t, []bridgetest.MockStep{
		{Method: "kong.request.get_headers", Args: &kong_plugin_protocol.Int{V: 100}, Ret: headers}, // go-pdk sends -1 as 100
		{Method: "kong.client.get_forwarded_ip", Ret: bridge.WrapString("2001:db8:ffff::5")},
		{Method: "kong.request.get_method", Ret: bridge.WrapString("GET")},
		{Method: "kong.request.get_path", Ret: bridge.WrapString("/v1/catalog")},
		{Method: "kong.response.exit"},
	})
	cfg.Access(pdk.Init(conn))
	evs := s.events.Events()
	require.NotEmpty(t, evs)
	ev := evs[len(evs)-1]
	for _, e := range evs {
		if e.ClientRequestID == "req-v6" {
			ev = e
		}
	}
	assert.Equal(t, "req-v6", ev.ClientRequestID, "the client's id is kept as data")
	assert.Regexp(t, edgeIDPattern, ev.RequestID)
	assert.Equal(t, "ip_not_allowed", ev.DenialCode)
	assert.Equal(t, "2001:db8:ffff::5", ev.ClientIP)
	assert.Equal(t, 403, ev.Status)
}

// TestPendingStateStaysBounded is the memory soak of Kong/kong#8508: completed requests
// leave nothing behind, and requests whose log phase never comes cannot grow the table
// past its bound.
func TestPendingStateStaysBounded(t *testing.T) {
	t.Parallel()
	s := newSetupMax(t, nil, 100)
	cfg := s.config(nil)
	secret := s.fx.Secret(edgetest.KeyTestFull)
	h := http.Header{"Authorization": {"Bearer " + secret}}
	for range 500 {
		kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", h)
		cfg.Access(kong.phase())
		cfg.Log(kong.phase())
	}
	inFlight, dropped := s.plugin.PendingStats()
	assert.Equal(t, 0, inFlight)
	assert.Equal(t, uint64(0), dropped)
	assert.Equal(t, 500, s.events.Len())

	for range 1000 {
		kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", h)
		cfg.Access(kong.phase()) // the log phase never comes
	}
	inFlight, dropped = s.plugin.PendingStats()
	assert.LessOrEqual(t, inFlight, 100)
	assert.Equal(t, uint64(1000-inFlight), dropped)
}

func TestEdgeTokenFromTheEnvironment(t *testing.T) {
	// No t.Parallel: t.Setenv changes the process environment.
	cfg := &kongplugin.Config{SandboxUpstreamURL: "http://sandbox", LiveUpstreamURL: "https://live", ControlPlaneURL: "http://cp", EdgeSigningSecrets: []string{edgetest.SigningSecret}}
	t.Setenv(kongplugin.EdgeTokenEnv, "")
	assert.ErrorContains(t, cfg.Validate(), kongplugin.EdgeTokenEnv)
	t.Setenv(kongplugin.EdgeTokenEnv, "tok_from_env")
	assert.NoError(t, cfg.Validate())
}

func TestSigningSecretsFromTheEnvironment(t *testing.T) {
	// No t.Parallel: t.Setenv changes the process environment.
	cfg := &kongplugin.Config{SandboxUpstreamURL: "http://sandbox", LiveUpstreamURL: "https://live", KeysFile: "/etc/keys.json"}
	t.Setenv(kongplugin.EdgeSigningSecretsEnv, "")
	assert.ErrorContains(t, cfg.Validate(), kongplugin.EdgeSigningSecretsEnv)
	t.Setenv(kongplugin.EdgeSigningSecretsEnv, edgetest.SigningSecret+", "+edgetest.SigningSecret+"-next")
	assert.NoError(t, cfg.Validate(), "two comma-separated secrets, for a rotation")
	t.Setenv(kongplugin.EdgeSigningSecretsEnv, "a,b,c")
	assert.ErrorContains(t, cfg.Validate(), "edge_signing_secrets")
}

// The Kong host reads Idempotency-Key with the other headers (one PDK call) and the core
// logs its hash: allowed and denied requests alike, the key itself never.
func TestIdempotencyKeyIsLoggedAsItsHash(t *testing.T) {
	t.Parallel()
	s := newSetup(t, nil)
	cfg := s.config(nil)
	for _, c := range []struct {
		name, key string
		headers   http.Header
	}{
		{"allowed", "order-42", http.Header{"Authorization": {"Bearer " + s.fx.Secret(edgetest.KeyTestFull)}, "Idempotency-Key": {"order-42"}}},
		{"denied", "order-43", http.Header{"Idempotency-Key": {"order-43"}}},
		{"no key", "", http.Header{"Authorization": {"Bearer " + s.fx.Secret(edgetest.KeyTestFull)}}},
	} {
		kong := newFakeKong(t, "POST", "/v1/orders", "2001:db8::1", c.headers)
		cfg.Access(kong.phase())
		cfg.Log(kong.phase())
		rid := kong.headers.Get("X-Request-Id") // set for the upstream when allowed
		if rid == "" {
			rid = kong.exitHeaders.Get("X-Request-Id") // on the denial
		}
		ev, ok := s.events.Find(rid)
		require.True(t, ok, c.name)
		assert.Equal(t, edge.IdempotencyKeyHash(c.key), ev.IdempotencyKeyHash, c.name)
		if c.key != "" {
			assert.NotEmpty(t, ev.IdempotencyKeyHash, c.name)
		}
	}
}
