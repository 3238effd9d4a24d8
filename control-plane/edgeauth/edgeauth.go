// Package edgeauth owns how edges authenticate to the control plane's internal endpoints
// (edge sync, policy bundles): a bearer edge token, compared in constant time against every
// configured token, so a token can be rotated by listing the old and the new one.
package edgeauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
)

// Tokens is the set of accepted edge tokens, kept as SHA-256 digests.
type Tokens struct {
	digests [][sha256.Size]byte
}

// New returns the set of tokens; it needs at least one, and none empty.
func New(tokens ...string) (Tokens, error) {
	if len(tokens) == 0 {
		return Tokens{}, errors.New("edgeauth: at least one edge token is required")
	}
	t := Tokens{digests: make([][sha256.Size]byte, 0, len(tokens))}
	for i, tok := range tokens {
		if strings.TrimSpace(tok) == "" {
			return Tokens{}, fmt.Errorf("edgeauth: edge token %d is empty", i)
		}
		t.digests = append(t.digests, sha256.Sum256([]byte(tok)))
	}
	return t, nil
}

// Allows reports whether an Authorization header carries one of the tokens. Every token is
// compared, over fixed-length digests, so neither the length nor which one matched leaks.
func (t Tokens) Allows(authorization string) bool {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, want := range t.digests {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}
