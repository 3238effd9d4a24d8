package fault_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/fault"
)

// TestEveryCodeIsInTheProblemTable: each stable code this package declares has its row in
// README.md's "Problem codes" table, where each problem's type URL points.
func TestEveryCodeIsInTheProblemTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, code := range []string{
		fault.CodePolicyError, fault.CodeInternal, fault.CodeKeyLimitReached, fault.CodeWebhookEndpointLimitReached,
		fault.CodeTestOrderRateLimited, fault.CodeWebhookTestRateLimited,
	} {
		assert.Contains(t, string(raw), "| `"+code+"` |", "README.md's problem table has no row for %s", code)
	}
}
