// Package keyformat owns the format of Steller API keys: generating them, parsing and
// checksumming them, hashing them for storage and lookup, and comparing hashes in constant
// time. The edge and the control plane both use it, so a key minted by one is understood by
// the other.
//
// A key reads sk_<env>_<entropy><check>: env is "test" (sandbox) or "live"; entropy is 32
// random bytes written as 43 base62 characters; check is the CRC-32 (IEEE) of everything
// before it ("sk_test_" plus the entropy), written as 6 base62 characters. The checksum lets
// the edge reject a mistyped or truncated key without a table lookup; it is not a security
// control (the 256 bits of entropy are). Only the SHA-256 hash of the whole key and a short
// display prefix are ever stored.
package keyformat

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/big"
	"strings"
)

// Environment is the environment a key belongs to: test keys reach the sandbox, live keys
// reach the live upstream.
type Environment string

const (
	// Test is the sandbox environment (prefix sk_test_).
	Test Environment = "test"
	// Live is the production environment (prefix sk_live_).
	Live Environment = "live"
)

// Valid reports whether e is a known environment.
func (e Environment) Valid() bool { return e == Test || e == Live }

const (
	entropyBytes = 32
	entropyChars = 43 // ceil(256 / log2(62))
	checkChars   = 6  // ceil(32 / log2(62))
	bodyChars    = entropyChars + checkChars
	// displayChars is how many body characters the display prefix keeps.
	displayChars = 4
	alphabet     = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	testPrefix   = "sk_test_"
	livePrefix   = "sk_live_"
)

// Errors returned by Parse. Both mean the presented key is not a Steller key; the edge
// answers invalid_key for either.
var (
	// ErrMalformed means the key has the wrong prefix, length or characters.
	ErrMalformed = errors.New("keyformat: malformed key")
	// ErrChecksum means the key is well formed but its checksum does not match (a typo).
	ErrChecksum = errors.New("keyformat: checksum mismatch")
)

// Hash is the SHA-256 of a whole key, the only form in which a key is stored. It encodes as
// lowercase hex in JSON and text.
type Hash [sha256.Size]byte

// HashOf returns the SHA-256 hash of a key's secret text.
func HashOf(secret string) Hash { return sha256.Sum256([]byte(secret)) }

// String returns the hash as lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Equal compares two hashes in constant time.
func (h Hash) Equal(other Hash) bool { return subtle.ConstantTimeCompare(h[:], other[:]) == 1 }

// IsZero reports whether h is the zero hash (unset).
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes the hash as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) {
	out := make([]byte, hex.EncodedLen(len(h)))
	hex.Encode(out, h[:])
	return out, nil
}

// UnmarshalText decodes a 64-character hex hash.
func (h *Hash) UnmarshalText(text []byte) error {
	if len(text) != hex.EncodedLen(len(h)) {
		return fmt.Errorf("keyformat: hash must be %d hex characters, got %d", hex.EncodedLen(len(h)), len(text))
	}
	if _, err := hex.Decode(h[:], text); err != nil {
		return fmt.Errorf("keyformat: hash: %w", err)
	}
	return nil
}

// ParseHash decodes a hex hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// Key is what Parse learns from a presented key without any lookup.
type Key struct {
	// Environment is the environment named by the key's prefix.
	Environment Environment
	// Hash is the SHA-256 of the whole key, used to look the key up.
	Hash Hash
	// Display is the short, non-secret prefix shown in dashboards and logs (sk_test_ab12).
	Display string
}

// Generate mints a new key for env from rand (crypto/rand.Reader in production). It returns
// the secret, to be shown once, and the parsed Key to store.
func Generate(env Environment, rand io.Reader) (string, Key, error) {
	prefix, err := prefixOf(env)
	if err != nil {
		return "", Key{}, err
	}
	var raw [entropyBytes]byte
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return "", Key{}, fmt.Errorf("keyformat: read entropy: %w", err)
	}
	var b strings.Builder
	b.Grow(len(prefix) + bodyChars)
	b.WriteString(prefix)
	b.WriteString(encodeFixed(new(big.Int).SetBytes(raw[:]), entropyChars))
	sum := checksum(b.String())
	b.WriteString(encodeFixed(new(big.Int).SetUint64(uint64(sum)), checkChars))
	secret := b.String()
	key, err := Parse(secret)
	if err != nil { // unreachable unless the encoding is broken
		return "", Key{}, fmt.Errorf("keyformat: generated key does not parse: %w", err)
	}
	return secret, key, nil
}

// Parse checks a presented key's prefix, length, alphabet and checksum, and hashes it. It
// does not allocate beyond the hash and never consults any store.
func Parse(s string) (Key, error) {
	var env Environment
	switch {
	case strings.HasPrefix(s, testPrefix):
		env = Test
	case strings.HasPrefix(s, livePrefix):
		env = Live
	default:
		return Key{}, ErrMalformed
	}
	const prefixLen = len(testPrefix)
	if len(s) != prefixLen+bodyChars {
		return Key{}, ErrMalformed
	}
	var check uint64
	for i := prefixLen; i < len(s); i++ {
		d := digit(s[i])
		if d < 0 {
			return Key{}, ErrMalformed
		}
		if i >= prefixLen+entropyChars {
			check = check*62 + uint64(d)
		}
	}
	// Copy into a stack buffer so that neither the checksum nor the hash allocates.
	var buf [prefixLen + bodyChars]byte
	copy(buf[:], s)
	if check != uint64(checksum(s[:prefixLen+entropyChars])) {
		return Key{}, ErrChecksum
	}
	return Key{Environment: env, Hash: sha256.Sum256(buf[:]), Display: s[:prefixLen+displayChars]}, nil
}

// DisplayPrefix returns the short display form of a secret (sk_test_ab12), or "" when the
// text is too short to be a key.
func DisplayPrefix(secret string) string {
	if len(secret) < len(testPrefix)+displayChars {
		return ""
	}
	return secret[:len(testPrefix)+displayChars]
}

// EqualSecret compares two secrets in constant time (for the length of the shorter).
func EqualSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func prefixOf(env Environment) (string, error) {
	switch env {
	case Test:
		return testPrefix, nil
	case Live:
		return livePrefix, nil
	default:
		return "", fmt.Errorf("keyformat: unknown environment %q", env)
	}
}

// encodeFixed writes n in base62 with exactly width digits, zero-padded on the left.
func encodeFixed(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = alphabet[mod.Int64()]
	}
	return string(out)
}

// digit returns the base62 value of c, or -1.
func digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	default:
		return -1
	}
}

// checksum is CRC-32 (IEEE) over a string; written out so that it reads the string in place
// instead of converting it to a slice that escapes to the heap.
func checksum(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}
