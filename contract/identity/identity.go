// Package identity owns the names of the headers that carry a partner request's identity:
// the ones a partner sends to present its key, and the ones the edge sets for the upstream
// (and the request id it returns to the client). The edge writes them and upstreams (the
// sandbox vendor, the live vendor stand-in, the production API) read them, so both import
// this package and neither links the other.
package identity

// Header names of the partner API's request identity.
const (
	// HeaderRequestID carries the edge-minted request id, to the upstream and back to the client.
	HeaderRequestID = "X-Request-Id"
	// HeaderClientRequestID carries, to the upstream, the client's own X-Request-Id when it
	// was valid (the edge replaces X-Request-Id with its own id). It is data for
	// correlation with the client's logs, never identity.
	HeaderClientRequestID = "X-Client-Request-Id"
	// HeaderPartnerID carries the key's partner id to the upstream.
	HeaderPartnerID = "X-Steller-Partner-Id"
	// HeaderWorkspaceID carries the key's workspace id to the upstream.
	HeaderWorkspaceID = "X-Steller-Workspace-Id"
	// HeaderEnvironment carries the key's environment ("test" or "live") to the upstream.
	HeaderEnvironment = "X-Steller-Environment"
	// HeaderKeyID carries the key's public id to the upstream.
	HeaderKeyID = "X-Steller-Key-Id"
	// HeaderSignature carries the edge's signature over the identity it forwards
	// (contract/edgesign), which upstreams verify before they trust any header above.
	HeaderSignature = "X-Steller-Signature"
	// HeaderAPIKey is the alternative to Authorization: Bearer for presenting a key.
	HeaderAPIKey = "X-Api-Key"
	// HeaderAuthorization carries "Bearer <key>".
	HeaderAuthorization = "Authorization"
	// HeaderIdempotencyKey is the partner's key that makes a POST /v1/orders safe to
	// retry; the edge logs a short hash of it (never the value), and passes it upstream.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// MaxIdempotencyKeyLen bounds an Idempotency-Key the edge hashes into the request log;
// the partner API accepts keys of 1 to 255 characters.
const MaxIdempotencyKeyLen = 255

// MaxClientRequestIDLen bounds a client's X-Request-Id that the edge keeps as the client
// request id.
const MaxClientRequestIDLen = 128

// ClientRequestIDPattern is ValidClientRequestID's rule as a regular expression, for API
// schemas that take a client request id (the log explorer's filter).
const ClientRequestIDPattern = `^[A-Za-z0-9._:-]{1,128}$`

// ValidClientRequestID reports whether a client's X-Request-Id may be kept: 1 to 128
// characters of letters, digits, '-', '_', '.', ':'. The edge drops any other value rather
// than storing it, so what is stored stays safe to log, index and show; readers of stored
// events apply the same rule.
func ValidClientRequestID(id string) bool {
	if len(id) == 0 || len(id) > MaxClientRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
