package edge

import (
	"crypto/rand"
	"encoding/hex"
)

// maxRequestIDLen bounds an accepted incoming request id.
const maxRequestIDLen = 128

// NewRequestID returns a fresh random request id: "req_" and 32 hex digits (128 bits).
func NewRequestID() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	var out [4 + 32]byte
	copy(out[:], "req_")
	hex.Encode(out[4:], raw[:])
	return string(out[:])
}

// ValidRequestID reports whether an incoming X-Request-Id may be kept: 1 to 128 characters
// of letters, digits, '-', '_', '.', ':'. Anything else is replaced, so ids stay safe to log
// and to use as keys downstream.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
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

// RequestIDOrNew returns incoming when it is valid, else a new id.
func RequestIDOrNew(incoming string) string {
	if ValidRequestID(incoming) {
		return incoming
	}
	return NewRequestID()
}
