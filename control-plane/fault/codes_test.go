package fault_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/fault"
)

// TestEveryCodeIsRegistered: each stable code this package declares, and each kind's own
// code, is in contract/problem's list (which README.md's table and the errors guide, where
// each problem's type URL points, are tested against) with the status it is sent with.
func TestEveryCodeIsRegistered(t *testing.T) {
	t.Parallel()
	for code, status := range map[string]int{
		fault.CodePolicyError:                 http.StatusServiceUnavailable,
		fault.CodeInternal:                    http.StatusInternalServerError,
		fault.CodeKeyLimitReached:             http.StatusConflict,
		fault.CodeWebhookEndpointLimitReached: http.StatusConflict,
		fault.CodeTestOrderRateLimited:        http.StatusTooManyRequests,
		fault.CodeWebhookTestRateLimited:      http.StatusTooManyRequests,
	} {
		c, ok := problem.Lookup(code)
		if assert.True(t, ok, "contract/problem does not register %s", code) {
			assert.Equal(t, status, c.Status, code)
		}
	}
	for _, kind := range []error{fault.ErrNotFound, fault.ErrConflict, fault.ErrValidation, fault.ErrForbidden,
		fault.ErrUnauthorized, fault.ErrRateLimited, fault.ErrGone, fault.ErrUnavailable} {
		status, code, ok := fault.KindCode(kind)
		assert.True(t, ok, kind.Error())
		c, ok := problem.Lookup(code)
		if assert.True(t, ok, "contract/problem does not register %s", code) {
			assert.Equal(t, status, c.Status, code)
		}
	}
}
