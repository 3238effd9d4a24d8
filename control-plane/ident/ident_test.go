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

func TestValidMatchesPattern(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(ident.Pattern("ord"))
	for _, id := range []string{ident.New("ord"), ident.New("ptr"), "ord_", "ord_abcdefghijklmnopqrs1", "ord_abcdefghijklmnopqrst",
		"ord_ABCDEFGHIJKLMNOPQRST", "ord_abcdefghijklmnopqrstu", "xord_abcdefghijklmnopqrst", "ord_abcdefghijklmnopqrs\x00"} {
		assert.Equal(t, shape.MatchString(id), ident.Valid("ord", id), id)
	}
	assert.True(t, ident.Valid("ord", ident.New("ord")))
	assert.False(t, ident.Valid("ord", ident.New("ptr")))
}
