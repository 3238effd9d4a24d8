package account_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/control-plane/account"
)

func TestNormalizeEmailKeepsOneSpellingPerMailbox(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"ada@example.com":           "ada@example.com",
		"  Ada@Example.COM ":        "Ada@example.com",
		"ada+gifts@Sub.Example.Org": "ada+gifts@sub.example.org",
	} {
		got, err := account.NormalizeEmail("body.email", raw)
		assert.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
	for _, raw := range []string{"Ada <ada@example.com>", "<ada@example.com>", "ada@example.com (Ada)", "ada", "ada@localhost",
		"@example.com", "ada@example.com, bob@example.com", ""} {
		_, err := account.NormalizeEmail("body.email", raw)
		assert.Error(t, err, raw)
	}
}
