package webhook

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/steller/platform/control-plane/fault"
)

// cursor is the sort key of a page's last row: (created_at, id), newest first.
type cursor struct {
	at time.Time
	id string
}

// encode is the opaque form handed to clients: base64url of "<RFC 3339 time>|<id>".
func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.at.UTC().Format(time.RFC3339Nano) + "|" + c.id))
}

// decodeCursor parses a client's cursor: the zero cursor and false for "", a validation
// error on query.cursor for anything this API did not hand out.
func decodeCursor(s string) (cursor, bool, error) {
	if s == "" {
		return cursor{}, false, nil
	}
	bad := fault.Invalid("query.cursor", "the cursor is not one this API returned", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false, bad
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok || id == "" {
		return cursor{}, false, bad
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return cursor{}, false, bad
	}
	return cursor{at: t, id: id}, true, nil
}

// farFuture stands in for "no cursor" in keyset queries.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// after returns the keyset bound for a page query.
func (c cursor) bound(ok bool) (time.Time, string) {
	if !ok {
		return farFuture, ""
	}
	return c.at, c.id
}
