package kongplugin

import (
	"sync"
	"time"

	"github.com/steller/platform/gateway-plugin/edge"
)

// pending holds what the access phase learned about an allowed request until its log phase
// claims it, keyed by request id. It is bounded in size and age: a request whose log phase
// never comes (a Kong worker killed mid-request) is dropped after maxAge, and when full the
// oldest entries go first, so memory stays flat however Kong behaves (Kong/kong#8508).
type pending struct {
	mu      sync.Mutex
	entries map[string]*pendingEntry
	max     int
	maxAge  time.Duration
	dropped uint64
}

type pendingEntry struct {
	req     edge.Request
	outcome edge.Outcome
	added   time.Time
	// filled is set once Access allowed the request; until then the id is only reserved.
	filled bool
}

func newPending(max int, maxAge time.Duration) *pending {
	return &pending{entries: make(map[string]*pendingEntry, 1024), max: max, maxAge: maxAge}
}

// reserve claims id for a request received at now; it returns false when the id is
// already in flight, so the caller picks a fresh id rather than mixing two requests.
func (p *pending) reserve(id string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, taken := p.entries[id]; taken {
		return false
	}
	if len(p.entries) >= p.max {
		p.evictLocked(now)
	}
	p.entries[id] = &pendingEntry{added: now}
	return true
}

// fill records the decided request under its reserved id.
func (p *pending) fill(id string, req *edge.Request, out *edge.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.entries[id]; ok {
		e.req, e.outcome, e.filled = *req, *out, true
	}
}

// release forgets id (a denied or failed request, logged without a log phase).
func (p *pending) release(id string) {
	p.mu.Lock()
	delete(p.entries, id)
	p.mu.Unlock()
}

// take removes and returns the entry of an allowed request. An id that is only reserved
// belongs to a request that Access denied (and logs itself) or is still deciding: Kong can
// run the log phase of a denied request before Access has released its id, so such an
// entry is left for Access to release, never logged a second time.
func (p *pending) take(id string) (*pendingEntry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[id]
	if !ok || !e.filled {
		return nil, false
	}
	delete(p.entries, id)
	return e, true
}

// evictLocked drops entries older than maxAge, and if that frees nothing, the oldest
// tenth. It runs only when the table is full, so its scan is amortised over many adds.
func (p *pending) evictLocked(now time.Time) {
	before := len(p.entries)
	for id, e := range p.entries {
		if now.Sub(e.added) > p.maxAge {
			delete(p.entries, id)
		}
	}
	if len(p.entries) == before {
		var oldest time.Time
		for _, e := range p.entries {
			if oldest.IsZero() || e.added.Before(oldest) {
				oldest = e.added
			}
		}
		cutoff := oldest.Add(now.Sub(oldest) / 10)
		for id, e := range p.entries {
			if !e.added.After(cutoff) {
				delete(p.entries, id)
			}
		}
	}
	p.dropped += uint64(before - len(p.entries))
}

// expire drops the entries older than maxAge (counted as dropped) and returns how many
// remain: requests whose access phase runs or whose log phase may still come.
func (p *pending) expire(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	before := len(p.entries)
	for id, e := range p.entries {
		if now.Sub(e.added) > p.maxAge {
			delete(p.entries, id)
		}
	}
	p.dropped += uint64(before - len(p.entries))
	return len(p.entries)
}

// stats returns the number of entries and how many were ever dropped unclaimed.
func (p *pending) stats() (size int, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries), p.dropped
}
