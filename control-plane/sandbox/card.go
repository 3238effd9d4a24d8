package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// cardKey is the fixed, public HMAC key of sandbox card codes: the codes are fake and must
// be reproducible by anyone (tests, partners' own test suites), never secret.
var cardKey = []byte("steller-sandbox-card-v1")

// cardAlphabet is Crockford's base32 (no I, L, O, U), so a code read aloud is unambiguous.
const cardAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Card is the fake gift card of a completed order: SBX-… from the sandbox, LIV-… from the
// live vendor stand-in of local runs.
type Card struct {
	// Code is "SBX-XXXX-XXXX-XXXX" (sandbox) or "LIV-XXXX-XXXX-XXXX" (live stand-in).
	Code string `json:"code" pattern:"^(SBX|LIV)(-[0-9A-HJKMNP-TV-Z]{4}){3}$" doc:"The card code (SBX-… from the sandbox; LIV-… from the local live vendor stand-in)."`
	// PIN is four digits.
	PIN string `json:"pin" pattern:"^[0-9]{4}$" doc:"The card's PIN."`
}

// CardFor returns the deterministic card of a sandbox order: HMAC-SHA256 of the order id
// under a fixed key, the first 60 bits as twelve base32 characters and the next 32 bits as
// a PIN. The same order id always gives the same card.
func CardFor(orderID string) Card { return cardFor("SBX", cardKey, orderID) }

// LiveCardFor returns the deterministic card of a live stand-in order, made as CardFor
// makes a sandbox card but under the stand-in's own public key and with prefix LIV.
func LiveCardFor(orderID string) Card { return cardFor("LIV", liveCardKey, orderID) }

func cardFor(prefix string, key []byte, orderID string) Card {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(orderID))
	sum := mac.Sum(nil)
	bits := binary.BigEndian.Uint64(sum[:8])
	code := make([]byte, 0, len("SBX-XXXX-XXXX-XXXX"))
	code = append(code, prefix...)
	for i := range 12 {
		if i%4 == 0 {
			code = append(code, '-')
		}
		code = append(code, cardAlphabet[bits>>(59-5*i)&31])
	}
	return Card{Code: string(code), PIN: fmt.Sprintf("%04d", binary.BigEndian.Uint32(sum[8:12])%10000)}
}
