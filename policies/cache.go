package policies

import "sync"

// decisionCache is a bounded LRU of edge decisions keyed by appendKey's bytes. One cache
// belongs to one policy set, so a new bundle starts with an empty cache and no entry is
// ever invalidated in place.
type decisionCache struct {
	mu      sync.Mutex
	size    int
	entries map[string]*cacheEntry
	// head.next is the most recently used entry, head.prev the least; head is a sentinel.
	head cacheEntry
}

type cacheEntry struct {
	key        string
	decision   Decision
	prev, next *cacheEntry
}

func newDecisionCache(size int) *decisionCache {
	c := &decisionCache{size: size, entries: make(map[string]*cacheEntry, size)}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// get returns the cached decision for key. The lookup converts key to a string without
// allocating, so a hit allocates nothing.
func (c *decisionCache) get(key []byte) (Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(key)]
	if !ok {
		return Decision{}, false
	}
	c.unlink(e)
	c.pushFront(e)
	return e.decision, true
}

// put stores d under key, evicting the least recently used entry when full.
func (c *decisionCache) put(key []byte, d Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[string(key)]; ok {
		e.decision = d
		c.unlink(e)
		c.pushFront(e)
		return
	}
	var e *cacheEntry
	if len(c.entries) >= c.size {
		// Reuse the evicted entry rather than allocate a new one.
		e = c.head.prev
		c.unlink(e)
		delete(c.entries, e.key)
	} else {
		e = new(cacheEntry)
	}
	e.key, e.decision = string(key), d
	c.entries[e.key] = e
	c.pushFront(e)
}

// len returns the number of cached decisions.
func (c *decisionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *decisionCache) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (c *decisionCache) pushFront(e *cacheEntry) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}
