package apikey

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/control-plane/fault"
)

// checkLimit refuses a key change that would take the workspace past the key limit: one
// more active key (a creation), or, when rolledWithGrace, one more rolled key in its grace
// period (a roll with a grace period; its new key takes the old key's active slot). The
// count is taken under the workspace's lock, held until tx ends, so concurrent changes
// count one after another.
func (s *Service) checkLimit(ctx context.Context, tx pgx.Tx, sc scope, now time.Time, rolledWithGrace bool) error {
	if s.limit < 0 {
		return nil
	}
	c, err := lockAndCount(ctx, tx, sc, now)
	if err != nil {
		return err
	}
	switch {
	case rolledWithGrace && c.inGrace >= s.limit:
		return fault.Coded(fault.ErrConflict, fault.CodeKeyLimitReached, fmt.Sprintf(
			"this workspace already has %d rolled keys in their grace period, the most allowed: roll with grace_period 0s, revoke a rolled key, or wait for a grace period to end", c.inGrace))
	case !rolledWithGrace && c.active >= s.limit:
		return fault.Coded(fault.ErrConflict, fault.CodeKeyLimitReached, fmt.Sprintf(
			"this workspace already has %d active API keys, the most allowed: revoke a key it no longer uses, then create the new one", c.active))
	}
	return nil
}
