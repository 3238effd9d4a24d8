package workspace

import (
	"time"

	"github.com/steller/platform/control-plane/page"
)

// cursor is the sort key of the last row of a page: (created_at, id), newest first.
type cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"id"`
}

// encode returns the opaque form handed to clients.
func (c cursor) encode() string { return page.Encode(c) }

// decodeCursor parses a client's cursor; the zero cursor (first page) for an empty one,
// a validation error on query.cursor for anything tampered with.
func decodeCursor(s string) (cursor, bool, error) {
	var c cursor
	ok, err := page.Decode(s, &c)
	if ok && (c.ID == "" || c.At.IsZero()) {
		return cursor{}, false, page.Invalid(s)
	}
	return c, ok, err
}

// PageParams are the query parameters of every list operation (embedded in inputs).
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"512" doc:"The next_cursor of the previous page; absent for the first page."`
}
