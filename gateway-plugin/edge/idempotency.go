package edge

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/steller/platform/contract/identity"
)

// IdempotencyKeyHash returns the request-log form of an Idempotency-Key header: the first
// 16 hex digits of its SHA-256, or "" when the header is absent or longer than
// identity.MaxIdempotencyKeyLen (the partner API refuses such keys, so they link nothing).
// The key is hashed, not logged, because it is the partner's data; 64 bits keep one
// partner's keys apart (a collision needs billions of keys). It copies the key to the
// stack instead of converting it to a slice, so the only allocation is the result.
func IdempotencyKeyHash(key string) string {
	if key == "" || len(key) > identity.MaxIdempotencyKeyLen {
		return ""
	}
	var buf [identity.MaxIdempotencyKeyLen]byte
	n := copy(buf[:], key)
	sum := sha256.Sum256(buf[:n])
	var out [16]byte
	hex.Encode(out[:], sum[:8])
	return string(out[:])
}
