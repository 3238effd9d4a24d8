// Package page owns the opaque cursors of the control plane's keyset pagination: a page's
// last sort key, JSON-encoded and base64url-wrapped, handed to clients as next_cursor and
// read back from ?cursor=. Lists never use OFFSET; a cursor this API did not make is a 422.
package page

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/steller/platform/control-plane/fault"
)

// Encode returns the opaque cursor for a page's last sort key (a JSON-encodable struct).
func Encode(key any) string {
	raw, _ := json.Marshal(key) // sort keys are plain structs of strings, times and numbers
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Decode reads a cursor made by Encode into key. An empty cursor (the first page) returns
// false and no error; anything else that does not decode is Invalid(s).
func Decode(s string, key any) (bool, error) {
	if s == "" {
		return false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return false, Invalid(s)
	}
	if err := json.Unmarshal(raw, key); err != nil {
		return false, Invalid(s)
	}
	return true, nil
}

// Invalid is the error for a cursor this API did not return (tampered or stale), located
// at query.cursor; callers use it too when a decoded key is incomplete.
func Invalid(s string) error {
	return fault.Invalid("query.cursor", "cursor is not one this API returned; start again without it", s)
}

// TimeKey is the sort key of lists ordered newest first by (created_at, id): the last row
// of a page.
type TimeKey struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

// Encode returns the opaque cursor for k.
func (k TimeKey) Encode() string { return Encode(k) }

// DecodeTimeKey reads a cursor made by TimeKey.Encode: false and no error for "" (the
// first page), Invalid(s) for anything else that is not a complete key.
func DecodeTimeKey(s string) (TimeKey, bool, error) {
	var k TimeKey
	ok, err := Decode(s, &k)
	if err == nil && ok && (k.ID == "" || k.At.IsZero()) {
		err = Invalid(s)
	}
	if err != nil {
		return TimeKey{}, false, err
	}
	return k, ok, nil
}
