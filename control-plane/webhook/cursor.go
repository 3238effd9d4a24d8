package webhook

import (
	"time"

	"github.com/steller/platform/control-plane/page"
)

// farFuture stands in for "no cursor" in keyset queries.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// bound returns the keyset bound of a page query: the cursor's key, or one past every row.
func bound(k page.TimeKey, ok bool) (time.Time, string) {
	if !ok {
		return farFuture, ""
	}
	return k.At, k.ID
}
