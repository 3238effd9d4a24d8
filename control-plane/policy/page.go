package policy

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/steller/platform/control-plane/fault"
)

// cursorPrefix versions the cursor format so it can change without misreading old ones.
const cursorPrefix = "v1:"

// encodeCursor makes the opaque cursor that resumes a list after the row with id (lists
// are ordered by id, newest first, and ids only grow).
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(id, 10)))
}

// decodeCursor returns the id a cursor resumes after; "" starts at the newest (0). A
// cursor this package did not make is a validation error on query.cursor.
func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	bad := fault.Invalid("query.cursor", "cursor is not one this API returned", c)
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, bad
	}
	s, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, bad
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}
