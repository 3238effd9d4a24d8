package edgetest

import (
	"net/netip"
	"strings"

	"github.com/steller/platform/contract/keyformat"
)

// Upstream names a case's expected upstream.
type Upstream string

// Expected upstreams.
const (
	Sandbox Upstream = "sandbox"
	Live    Upstream = "live"
	// None means the request is denied at the edge.
	None Upstream = ""
)

// Want is a case's expected outcome.
type Want struct {
	// Status is the HTTP status the client sees: 200 from the upstream when allowed (the
	// test upstreams answer 200), else the denial status.
	Status int
	// Code is the denial code ("" when allowed).
	Code string
	// Upstream is where an allowed request goes.
	Upstream Upstream
	// KeyName is the fixture key the edge should identify ("" when none).
	KeyName string
	// Environment is the key's environment when allowed ("" for denials).
	Environment keyformat.Environment
	// PartnerID is the identified key's partner ("" when none).
	PartnerID string
	// ClientRequestID is the client request id the edge keeps: the case's ClientRequestID
	// when valid, else "". The request id itself is always the edge's own, never this.
	ClientRequestID string
}

// Case is one row of the decision table.
type Case struct {
	// Name names the row.
	Name string
	// Method and Path are the request line (no query).
	Method, Path string
	// Body is the request body; POSTs carry one because go-pdk's harness requires it.
	Body string
	// Authorization is the Authorization header to send ("" for none).
	Authorization string
	// APIKey is the X-Api-Key header to send ("" for none).
	APIKey string
	// ClientIP is the client's real address: what Kong resolves, or the socket address of
	// a request reaching the gateway (possibly via trusted proxies).
	ClientIP netip.Addr
	// SpoofedForwardedFor is an X-Forwarded-For value the client itself sends to try to
	// look like another address; hosts must not believe it.
	SpoofedForwardedFor string
	// ClientRequestID is the X-Request-Id the client sends ("" for none). Every row sends
	// one, distinct per row unless the row is about request ids.
	ClientRequestID string
	// Want is the expected outcome.
	Want Want
}

// Cases returns the decision table.
func (f *Fixture) Cases() []Case {
	bearer := func(name string) string { return "Bearer " + f.Secret(name) }
	typo := []byte(f.Secret(KeyTestFull))
	typo[20] = map[bool]byte{true: 'b', false: 'a'}[typo[20] == 'a']
	v4, v6 := HarnessClientIP, netip.MustParseAddr("2001:db8:abcd::5")
	allowTest := func(name string) Want {
		return Want{Status: 200, Upstream: Sandbox, KeyName: name, Environment: keyformat.Test, PartnerID: PartnerActive}
	}
	allowLive := func(name string) Want {
		return Want{Status: 200, Upstream: Live, KeyName: name, Environment: keyformat.Live, PartnerID: PartnerActive}
	}
	deny := func(status int, code, name string) Want {
		w := Want{Status: status, Code: code, KeyName: name, PartnerID: PartnerActive}
		if name == "" {
			w.PartnerID = ""
		}
		return w
	}
	cases := []Case{
		{Name: "allow test key bearer catalog", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyTestFull), ClientIP: v4, Want: allowTest(KeyTestFull)},
		{Name: "allow test key x-api-key order create", Method: "POST", Path: "/v1/orders", Body: `{"product":"gc_25"}`, APIKey: f.Secret(KeyTestFull), ClientIP: v4, Want: allowTest(KeyTestFull)},
		{Name: "allow order get with id", Method: "GET", Path: "/v1/orders/ord_123", Authorization: bearer(KeyTestFull), ClientIP: v4, Want: allowTest(KeyTestFull)},
		{Name: "allow live key live-only route from allowlisted ipv4", Method: "GET", Path: "/v1/settlements", Authorization: bearer(KeyLiveFull), ClientIP: v4, Want: allowLive(KeyLiveFull)},
		{Name: "allow same key in both headers", Method: "GET", Path: "/v1/balance", Authorization: bearer(KeyTestFull), APIKey: f.Secret(KeyTestFull), ClientIP: v4, Want: allowTest(KeyTestFull)},
		{Name: "missing key", Method: "GET", Path: "/v1/catalog", ClientIP: v4, Want: deny(401, "missing_key", "")},
		{Name: "invalid key mistyped", Method: "GET", Path: "/v1/catalog", Authorization: "Bearer " + string(typo), ClientIP: v4, Want: deny(401, "invalid_key", "")},
		{Name: "invalid key unknown", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyUnknown), ClientIP: v4, Want: deny(401, "invalid_key", "")},
		{Name: "invalid key not bearer", Method: "GET", Path: "/v1/catalog", Authorization: "Basic dXNlcjpwYXNz", ClientIP: v4, Want: deny(401, "invalid_key", "")},
		{Name: "invalid key headers disagree", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyTestFull), APIKey: f.Secret(KeyCatalogOnly), ClientIP: v4, Want: deny(401, "invalid_key", "")},
		{Name: "revoked key", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyRevoked), ClientIP: v4, Want: deny(401, "key_revoked", KeyRevoked)},
		{Name: "expired key", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyExpired), ClientIP: v4, Want: deny(401, "key_expired", KeyExpired)},
		{Name: "wrong ipv4", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyIPv4Restricted), ClientIP: v4, Want: deny(403, "ip_not_allowed", KeyIPv4Restricted)},
		{Name: "spoofed x-forwarded-for", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyIPv4Restricted), ClientIP: v4, SpoofedForwardedFor: "192.0.2.10", Want: deny(403, "ip_not_allowed", KeyIPv4Restricted)},
		{Name: "ipv6 allowed", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyIPv6Restricted), ClientIP: v6, Want: allowTest(KeyIPv6Restricted)},
		{Name: "ipv6 denied", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyIPv6Restricted), ClientIP: netip.MustParseAddr("2001:db8:ffff::5"), Want: deny(403, "ip_not_allowed", KeyIPv6Restricted)},
		{Name: "ipv6 client on ipv4 allowlist", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyIPv4Restricted), ClientIP: v6, Want: deny(403, "ip_not_allowed", KeyIPv4Restricted)},
		{Name: "policy deny by role", Method: "POST", Path: "/v1/orders", Body: `{"product":"gc_25"}`, Authorization: bearer(KeyCatalogOnly), ClientIP: v4, Want: deny(403, "forbidden_by_policy", KeyCatalogOnly)},
		{Name: "test key on live-only route", Method: "GET", Path: "/v1/settlements", Authorization: bearer(KeyTestFull), ClientIP: v4, Want: deny(403, "forbidden_by_policy", KeyTestFull)},
		{Name: "unknown route", Method: "DELETE", Path: "/v1/orders/ord_1", Authorization: bearer(KeyTestFull), ClientIP: v4, Want: deny(403, "forbidden_by_policy", KeyTestFull)},
		{Name: "suspended partner", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeySuspended), ClientIP: v4, Want: Want{Status: 403, Code: "partner_suspended", KeyName: KeySuspended, PartnerID: PartnerSuspended}},
		{Name: "rolled key in grace", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyRolledInGrace), ClientIP: v4, Want: allowLive(KeyRolledInGrace)},
		{Name: "rolled key after grace", Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyRolledAfterGrace), ClientIP: v4, Want: deny(401, "key_expired", KeyRolledAfterGrace)},
	}
	for i := range cases {
		c := &cases[i]
		c.ClientRequestID = "cli-" + strings.ReplaceAll(c.Name, " ", "-")
		c.Want.ClientRequestID = c.ClientRequestID
	}
	// Rows about the client's request id: the edge mints the request id whatever the client
	// sends, keeps a valid client id as data, and drops an invalid or overlong one.
	invalid := func(name, id string, want Want) Case {
		return Case{Name: name, Method: "GET", Path: "/v1/catalog", Authorization: bearer(KeyTestFull), ClientIP: v4, ClientRequestID: id, Want: want}
	}
	return append(cases,
		invalid("client request id with spaces dropped", "bad id with spaces", allowTest(KeyTestFull)),
		invalid("client request id overlong dropped", strings.Repeat("a", 129), allowTest(KeyTestFull)),
		invalid("client request id at the bound kept", "cli-"+strings.Repeat("b", 124), withClient(allowTest(KeyTestFull), "cli-"+strings.Repeat("b", 124))),
		invalid("client request id that looks like an edge id kept as data", "req_00000000000000000000000000000000", withClient(allowTest(KeyTestFull), "req_00000000000000000000000000000000")),
		Case{Name: "no client request id", Method: "GET", Path: "/v1/catalog", ClientIP: v4, Want: deny(401, "missing_key", "")},
	)
}

func withClient(w Want, id string) Want {
	w.ClientRequestID = id
	return w
}
