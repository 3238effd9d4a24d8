package edgeauth_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/edgeauth"
)

func TestAllowsEveryConfiguredTokenAndNothingElse(t *testing.T) {
	t.Parallel()
	tokens, err := edgeauth.New("old-token-0123456789", "new-token-0123456789")
	require.NoError(t, err)
	for header, want := range map[string]bool{
		"Bearer old-token-0123456789": true,
		"bearer new-token-0123456789": true,
		"Bearer other-token":          false,
		"Bearer old-token":            false,
		"Basic old-token-0123456789":  false,
		"old-token-0123456789":        false,
		"Bearer ":                     false,
		"":                            false,
	} {
		assert.Equal(t, want, tokens.Allows(header), header)
	}
}

func TestNeedsAToken(t *testing.T) {
	t.Parallel()
	_, err := edgeauth.New()
	assert.Error(t, err)
	_, err = edgeauth.New("ok-token", " ")
	assert.ErrorContains(t, err, "token 1 is empty")
}
