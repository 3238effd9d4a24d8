// Package devupstream owns the stand-in upstream that `steller dev` puts behind the
// gateway for live keys until the live vendor stand-in exists: it answers every request
// with what the upstream received (method, path, the edge's identity headers), so a
// developer sees the edge at work. Like every Steller upstream it serves only requests
// that carry the edge's signature.
package devupstream

import (
	"encoding/json"
	"net/http"

	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
)

// identityHeaders are the headers the edge sets on every request it forwards.
var identityHeaders = []string{
	identity.HeaderRequestID, identity.HeaderPartnerID, identity.HeaderWorkspaceID,
	identity.HeaderEnvironment, identity.HeaderKeyID,
}

// Handler returns the echo upstream; verifier checks the edge signature of each request.
func Handler(verifier *edgesign.Verifier) http.Handler {
	return verifier.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := map[string]string{}
		for _, h := range identityHeaders {
			seen[h] = r.Header.Get(h)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"upstream":           "steller dev echo upstream (stands in for the production gift-card API)",
			"method":             r.Method,
			"path":               r.URL.Path,
			"identity_headers":   seen,
			"signature_verified": true,
			"key_header_reached": r.Header.Get(identity.HeaderAuthorization) != "" || r.Header.Get(identity.HeaderAPIKey) != "",
		})
	}))
}
