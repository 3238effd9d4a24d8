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
	// HeaderPartnerID carries the key's partner id to the upstream.
	HeaderPartnerID = "X-Steller-Partner-Id"
	// HeaderWorkspaceID carries the key's workspace id to the upstream.
	HeaderWorkspaceID = "X-Steller-Workspace-Id"
	// HeaderEnvironment carries the key's environment ("test" or "live") to the upstream.
	HeaderEnvironment = "X-Steller-Environment"
	// HeaderKeyID carries the key's public id to the upstream.
	HeaderKeyID = "X-Steller-Key-Id"
	// HeaderAPIKey is the alternative to Authorization: Bearer for presenting a key.
	HeaderAPIKey = "X-Api-Key"
	// HeaderAuthorization carries "Bearer <key>".
	HeaderAuthorization = "Authorization"
)
