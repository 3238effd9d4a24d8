package edge

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/steller/platform/contract/identity"
)

// NewRequestID returns a fresh random request id: "req_" and 32 hex digits (128 bits).
func NewRequestID() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	var out [4 + 32]byte
	copy(out[:], "req_")
	hex.Encode(out[4:], raw[:])
	return string(out[:])
}

// ClientRequestID returns a client's X-Request-Id when identity.ValidClientRequestID
// accepts it, else "" (an invalid one is dropped, never stored). It is data about the request, never its identity: the
// edge always mints the request id itself (NewRequestID), so a client cannot make two
// requests share an id and fold them together in the logs or the counts.
func ClientRequestID(incoming string) string {
	if identity.ValidClientRequestID(incoming) {
		return incoming
	}
	return ""
}
