package webhook

import (
	"time"

	"github.com/steller/platform/control-plane/page"
)

// cursor is the sort key of a page's last row: (created_at, id), newest first.
type cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

func (c cursor) encode() string { return page.Encode(c) }

// decodeCursor parses a client's cursor: the zero cursor and false for "", a validation
// error on query.cursor for anything this API did not hand out.
func decodeCursor(s string) (cursor, bool, error) {
	var c cursor
	ok, err := page.Decode(s, &c)
	if err == nil && ok && (c.ID == "" || c.At.IsZero()) {
		err = page.Invalid(s)
	}
	return c, ok && err == nil, err
}

// farFuture stands in for "no cursor" in keyset queries.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// bound returns the keyset bound for a page query.
func (c cursor) bound(ok bool) (time.Time, string) {
	if !ok {
		return farFuture, ""
	}
	return c.At, c.ID
}
