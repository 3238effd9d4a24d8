package edgesign

import (
	"context"
	"errors"
	"net/http"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
)

// Problem codes an upstream answers a refused request with (README.md, "Problem codes").
const (
	// CodeMissing: the request carries no edge signature; it did not come through the edge.
	CodeMissing = "edge_signature_missing"
	// CodeInvalid: the signature is malformed or does not match the request.
	CodeInvalid = "edge_signature_invalid"
	// CodeStale: the signature was made outside the window (a replay, or a clock far off).
	CodeStale = "edge_signature_stale"
)

// FromHeaders reads the identity the edge forwarded from a request's method, path and
// headers.
func FromHeaders(method, path string, h http.Header) Identity {
	return Identity{
		Method:      method,
		Path:        path,
		RequestID:   h.Get(identity.HeaderRequestID),
		PartnerID:   h.Get(identity.HeaderPartnerID),
		WorkspaceID: h.Get(identity.HeaderWorkspaceID),
		Environment: h.Get(identity.HeaderEnvironment),
		KeyID:       h.Get(identity.HeaderKeyID),
	}
}

// VerifyRequest verifies r's X-Steller-Signature against the identity headers r carries
// and returns that identity; see Verify for the errors. The edge signs the path it
// decided on; an upstream sees it decoded (r.URL.Path) or as sent (r.URL.EscapedPath()),
// and either form verifies. A proxy between the edge and the upstream must not rewrite it.
func (v *Verifier) VerifyRequest(r *http.Request) (Identity, error) {
	id := FromHeaders(r.Method, r.URL.Path, r.Header)
	header := r.Header.Get(identity.HeaderSignature)
	err := v.Verify(&id, header)
	if errors.Is(err, ErrMismatch) {
		if escaped := r.URL.EscapedPath(); escaped != id.Path {
			alt := id
			alt.Path = escaped
			if v.Verify(&alt, header) == nil {
				return alt, nil
			}
		}
	}
	return id, err
}

// Problem is the problem document an upstream answers a Verify error with: 401 and the
// error's code. The detail never says which part failed beyond the code.
func Problem(err error, requestID string) problem.Document {
	switch {
	case errors.Is(err, ErrUnsigned):
		return problem.New(http.StatusUnauthorized, CodeMissing, "Edge signature missing",
			"This service serves only requests forwarded by the Steller edge.", requestID)
	case errors.Is(err, ErrStale):
		return problem.New(http.StatusUnauthorized, CodeStale, "Edge signature expired",
			"The edge signature is too old or too far in the future; requests cannot be replayed.", requestID)
	default:
		return problem.New(http.StatusUnauthorized, CodeInvalid, "Edge signature invalid",
			"The edge signature does not match this request.", requestID)
	}
}

type contextKey struct{}

// Require wraps next so it serves only requests with a valid edge signature; others get
// Problem's answer. next finds the verified identity with FromContext.
func (v *Verifier) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.VerifyRequest(r)
		if err != nil {
			problem.Write(w, Problem(err, r.Header.Get(identity.HeaderRequestID)))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), contextKey{}, id)))
	})
}

// FromContext returns the identity Require verified for the request of ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(contextKey{}).(Identity)
	return id, ok
}
