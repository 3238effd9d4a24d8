// Package ident owns the control plane's public identifiers: a short type prefix and 20
// random characters (ptr_, usr_, ws_, key_, inv_, ...), readable in logs and URLs and
// unguessable, so ids never reveal counts or order.
package ident

import (
	"crypto/rand"
	"strings"
)

// alphabet is lower-case base32 without padding (Crockford-like letters avoided for
// simplicity: the ids are copied, not read aloud).
const alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// New returns prefix_ followed by 20 random characters (100 bits).
func New(prefix string) string {
	var raw [20]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on Linux
	var b strings.Builder
	b.Grow(len(prefix) + 1 + len(raw))
	b.WriteString(prefix)
	b.WriteByte('_')
	for _, r := range raw {
		b.WriteByte(alphabet[r&31])
	}
	return b.String()
}

// Pattern is the regular expression of the ids New(prefix) returns, for API schemas.
func Pattern(prefix string) string { return "^" + prefix + "_[a-z2-7]{20}$" }

// Valid reports whether id has the shape of an id New(prefix) returns, so a malformed id
// can be refused before it reaches a query.
func Valid(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != 20 {
		return false
	}
	for i := range len(rest) {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}
