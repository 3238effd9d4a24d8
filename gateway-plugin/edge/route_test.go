package edge_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	core := newCore(t, edgetest.New(edgetest.FixedNow()), &fakeAuthorizer{})
	cases := []struct {
		method, path, want string
	}{
		{"GET", "/v1/catalog", "catalog.list"},
		{"GET", "/v1/catalog/", "unknown"},
		{"POST", "/v1/catalog", "unknown"},
		{"POST", "/v1/orders", "orders.create"},
		{"GET", "/v1/orders", "unknown"},
		{"GET", "/v1/orders/ord_1", "orders.get"},
		{"GET", "/v1/orders/", "unknown"},
		{"GET", "/v1/orders/ord_1/items", "unknown"},
		{"GET", "/v1/balance", "balance.get"},
		{"GET", "/v1/settlements", "settlements.list"},
		{"POST", "/v1/sandbox/fail", "sandbox.simulate"},
		{"POST", "/v1/sandbox/a/b", "sandbox.simulate"},
		{"POST", "/v1/sandbox/", "unknown"},
		{"POST", "/v1/sandbox", "unknown"},
		{"GET", "", "unknown"},
		{"GET", "v1/catalog", "unknown"},
		{"GET", "/", "unknown"},
		{"POST", "/v1/sandbox/../orders", "unknown"},
		{"POST", "/v1/sandbox/./x", "unknown"},
		{"POST", "/v1/sandbox/x/..", "unknown"},
		{"GET", "//v1/catalog", "unknown"},
		{"GET", "/v1//catalog", "unknown"},
		{"GET", "/v1/orders/..", "unknown"},
		{"GET", "/v1/orders/...", "orders.get"},
		{"get", "/v1/catalog", "unknown"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, core.Route(tc.method, tc.path), "%s %s", tc.method, tc.path)
	}
}

func TestCustomRoutesValidated(t *testing.T) {
	t.Parallel()
	fx := edgetest.New(edgetest.FixedNow())
	base := edge.Config{Keys: fx.Table, Authorizer: &fakeAuthorizer{}, SandboxUpstream: sandboxURL, LiveUpstream: liveURL, Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer()}
	for _, bad := range [][]edge.Route{
		{{Name: "", Method: "GET", Pattern: "/x"}},
		{{Name: "x", Method: "GET", Pattern: "x"}},
		{{Name: "x", Method: "GET", Pattern: "/a//b"}},
	} {
		cfg := base
		cfg.Routes = bad
		_, err := edge.New(cfg)
		assert.Error(t, err, "%v", bad)
	}
	cfg := base
	cfg.Routes = []edge.Route{{Name: "things.get", Method: "get", Pattern: "/v2/things/{id}"}}
	core, err := edge.New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "things.get", core.Route("GET", "/v2/things/1"))
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	a, b := edge.NewRequestID(), edge.NewRequestID()
	assert.NotEqual(t, a, b)
	assert.Len(t, a, 36)
	assert.True(t, identity.ValidClientRequestID(a))
	for id, want := range map[string]bool{
		"":                        false,
		"abc-123_x.y:z":           true,
		"has space":               false,
		"new\nline":               false,
		string(make([]byte, 129)): false,
	} {
		assert.Equal(t, want, identity.ValidClientRequestID(id), "%q", id)
	}
	assert.Equal(t, "keep-me", edge.ClientRequestID("keep-me"))
	assert.Empty(t, edge.ClientRequestID("bad id"), "an invalid client id is dropped")
	assert.Empty(t, edge.ClientRequestID(""))
}

func TestProblemForEveryCode(t *testing.T) {
	t.Parallel()
	for code, status := range map[string]int{
		edge.CodeMissingKey: 401, edge.CodeInvalidKey: 401, edge.CodeKeyRevoked: 401, edge.CodeKeyExpired: 401,
		edge.CodeIPNotAllowed: 403, edge.CodeForbiddenByPolicy: 403, edge.CodePartnerSuspended: 403,
		edge.CodePolicyError: 503, edge.CodeInternal: 500,
	} {
		p := edge.NewProblem(code, "", "req_9")
		assert.Equal(t, status, p.Status, code)
		assert.Equal(t, code, p.Code)
		assert.Equal(t, "req_9", p.RequestID)
		assert.NotEmpty(t, p.Title)
		assert.NotEmpty(t, p.Detail)
		assert.Equal(t, problem.TypeBase+code, p.Type)
	}
}
