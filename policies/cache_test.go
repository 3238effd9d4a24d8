package policies

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDecisionCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := newDecisionCache(2)
	allow, deny := Decision{Allow: true}, Decision{Code: "forbidden_by_policy"}
	c.put([]byte("a"), allow)
	c.put([]byte("b"), deny)

	// Touch "a" so "b" is the least recently used, then overflow with "c".
	d, ok := c.get([]byte("a"))
	assert.True(t, ok)
	assert.Equal(t, allow, d)
	c.put([]byte("c"), deny)

	assert.Equal(t, 2, c.len())
	_, ok = c.get([]byte("b"))
	assert.False(t, ok, "b was evicted")
	_, ok = c.get([]byte("a"))
	assert.True(t, ok)
	_, ok = c.get([]byte("c"))
	assert.True(t, ok)

	// Overwriting an entry updates it without growing the cache.
	c.put([]byte("a"), deny)
	d, _ = c.get([]byte("a"))
	assert.Equal(t, deny, d)
	assert.Equal(t, 2, c.len())
}
