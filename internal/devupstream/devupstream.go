// Package devupstream owns the stand-in upstream that `steller dev` puts behind the
// gateway until the sandbox gift-card vendor exists: it answers every request with what
// the upstream received (method, path, the edge's identity headers), so a developer sees
// the edge at work. Like every Steller upstream it refuses a request that did not come
// through the edge.
package devupstream

import (
	"encoding/json"
	"net/http"
)

// identityHeaders are the headers the edge sets on every request it forwards.
var identityHeaders = []string{
	"X-Request-Id", "X-Steller-Partner-Id", "X-Steller-Workspace-Id", "X-Steller-Environment", "X-Steller-Key-Id",
}

// Handler returns the echo upstream.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Steller-Partner-Id") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "request did not come through the Steller edge"})
			return
		}
		seen := map[string]string{}
		for _, h := range identityHeaders {
			seen[h] = r.Header.Get(h)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"upstream":           "steller dev echo upstream (the sandbox vendor will answer here)",
			"method":             r.Method,
			"path":               r.URL.Path,
			"identity_headers":   seen,
			"key_header_reached": r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "",
		})
	})
}
