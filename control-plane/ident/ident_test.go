package ident_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/control-plane/ident"
)

func TestNewIsPrefixedAndUnique(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^ptr_[a-z2-7]{20}$`)
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := ident.New("ptr")
		assert.Regexp(t, shape, id)
		assert.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}
