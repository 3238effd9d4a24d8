// Package edge owns the edge's decision core: given a plain description of a partner request
// it authenticates the API key, checks the key's status, expiry and client-address
// allowlist, asks the policy authorizer, picks the upstream, and describes the answer (the
// identity headers to send upstream, or a problem document to send back) and the
// request-log event. It uses neither go-pdk nor net/http: the Kong plugin and the built-in
// gateway are thin hosts around it.
package edge

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/keyformat"
)

// Request is what a host tells the core about a request. Hosts resolve the client address
// themselves (Kong's resolved client IP; the gateway's trusted-proxy rules), so no header
// the client sends can change it here.
type Request struct {
	// Method is the HTTP method, upper case.
	Method string
	// Path is the request path without the query string.
	Path string
	// Authorization is the raw Authorization header value ("" when absent).
	Authorization string
	// APIKey is the raw X-Api-Key header value ("" when absent).
	APIKey string
	// ClientAddr is the client address as resolved by the host.
	ClientAddr netip.Addr
	// UserAgent is the User-Agent header value.
	UserAgent string
	// RequestID identifies the request; hosts always mint it with NewRequestID, never take
	// it from the client.
	RequestID string
	// ClientRequestID is the client's own X-Request-Id when valid (ClientRequestID), else
	// "". It is logged and passed upstream beside RequestID, never used as identity.
	ClientRequestID string
	// IdempotencyKey is the raw Idempotency-Key header value ("" when absent). Only its
	// hash is logged (IdempotencyKeyHash); the header itself reaches the upstream unchanged.
	IdempotencyKey string
	// RequestBytes is the request body size when known (Content-Length), else 0.
	RequestBytes int64
	// Received is when the host received the request; the core's clock when zero.
	Received time.Time
}

// Identity is who an authenticated key belongs to.
type Identity struct {
	// KeyID is the key's public id.
	KeyID string
	// PartnerID is the owning partner.
	PartnerID string
	// WorkspaceID is the key's workspace.
	WorkspaceID string
	// Environment is the key's environment.
	Environment keyformat.Environment
}

// Header is one header name and value.
type Header struct {
	Name, Value string
}

// Outcome is the core's answer for one request: either allowed, with the identity, route
// and upstream, or denied, with a status and a stable code.
type Outcome struct {
	// Allowed is true when the request goes upstream.
	Allowed bool
	// Status is the HTTP status of a denial (0 when allowed).
	Status int
	// Code is the stable denial code (empty when allowed).
	Code string
	// Detail explains a denial; safe to show to the caller.
	Detail string
	// RequestID is the request's edge-minted id.
	RequestID string
	// ClientRequestID is the client's valid X-Request-Id, or "".
	ClientRequestID string
	// Route is the matched route name, or RouteUnknown.
	Route string
	// Identity is set once the key was identified (also for later denials).
	Identity Identity
	// Upstream is the base URL to forward to when allowed; it is shared, read-only.
	Upstream *url.URL
	// Received is when the request was received.
	Received time.Time
	// Signature is the X-Steller-Signature value over the identity, set when allowed.
	Signature string
}

// UpstreamHeaders returns the identity headers to set on the upstream request, with the
// signature over them that upstreams verify (contract/edgesign). Hosts must also remove
// Authorization and X-Api-Key from it so the key never reaches the upstream.
// X-Client-Request-Id is the client's own id; its value is "" when the client sent none
// (or an invalid one), and hosts then remove the header, so a client cannot send its own.
func (o *Outcome) UpstreamHeaders() [7]Header {
	return [7]Header{
		{identity.HeaderRequestID, o.RequestID},
		{identity.HeaderClientRequestID, o.ClientRequestID},
		{identity.HeaderPartnerID, o.Identity.PartnerID},
		{identity.HeaderWorkspaceID, o.Identity.WorkspaceID},
		{identity.HeaderEnvironment, string(o.Identity.Environment)},
		{identity.HeaderKeyID, o.Identity.KeyID},
		{identity.HeaderSignature, o.Signature},
	}
}

// StrippedHeaders are the request headers hosts remove before forwarding: the key itself
// and any identity header a client might send to impersonate the edge.
var StrippedHeaders = [...]string{
	identity.HeaderAuthorization, identity.HeaderAPIKey,
	identity.HeaderPartnerID, identity.HeaderWorkspaceID, identity.HeaderEnvironment, identity.HeaderKeyID,
	identity.HeaderSignature,
}
