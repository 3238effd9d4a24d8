package workspace

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/steller/platform/control-plane/fault"
)

// cursor is the sort key of the last row of a page: (created_at, id), newest first.
type cursor struct {
	at time.Time
	id string
}

// encode returns the opaque form handed to clients: base64url of "<RFC 3339 time>|<id>".
func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.at.UTC().Format(time.RFC3339Nano) + "|" + c.id))
}

// decodeCursor parses a client's cursor; the zero cursor (first page) for an empty one,
// a validation error on query.cursor for anything tampered with.
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

// PageParams are the query parameters of every list operation (embedded in inputs).
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page; absent for the first page."`
}
