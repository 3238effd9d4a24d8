package account

import (
	"strings"
	"sync"
	"time"
)

// LoginThrottle slows down password guessing against one account: after Free failed
// sign-ins for a mailbox, each further attempt must wait a backoff that doubles with every
// failure, from Base up to Max. It counts every address tried, with or without an account,
// and answers alike, so it reveals nothing about which addresses exist. A success clears
// the mailbox's count. The zero value disables it.
type LoginThrottle struct {
	// Free is how many failures in a row cost nothing.
	Free int
	// Base is the wait after the first failure beyond Free.
	Base time.Duration
	// Max caps the wait; a mailbox whose last failure is older than Max starts afresh.
	Max time.Duration
}

// DefaultLoginThrottle allows 5 failures, then waits 1 s, 2 s, 4 s ... up to 15 minutes.
var DefaultLoginThrottle = LoginThrottle{Free: 5, Base: time.Second, Max: 15 * time.Minute}

// maxThrottled bounds the throttle's memory; past it, forgotten mailboxes start afresh.
const maxThrottled = 100_000

// throttle is a LoginThrottle's state.
type throttle struct {
	cfg   LoginThrottle
	clock func() time.Time
	mu    sync.Mutex
	m     map[string]strikes
}

type strikes struct {
	failures int
	last     time.Time
	until    time.Time
}

func newThrottle(cfg LoginThrottle, clock func() time.Time) *throttle {
	return &throttle{cfg: cfg, clock: clock, m: map[string]strikes{}}
}

func (t *throttle) enabled() bool {
	return t != nil && t.cfg.Free > 0 && t.cfg.Base > 0 && t.cfg.Max > 0
}

// key is the mailbox a sign-in names, compared case-insensitively as accounts are.
func throttleKey(kind, email string) string { return kind + "|" + strings.ToLower(loginEmail(email)) }

// wait reports how long key must still wait before its next attempt (0: go ahead).
func (t *throttle) wait(key string) time.Duration {
	if !t.enabled() {
		return 0
	}
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.current(key, now)
	return max(0, s.until.Sub(now))
}

// fail counts a failed attempt of key and returns the wait it now owes.
func (t *throttle) fail(key string) time.Duration {
	if !t.enabled() {
		return 0
	}
	now := t.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.current(key, now)
	if s.failures == 0 && len(t.m) >= maxThrottled {
		t.sweep(now)
	}
	s.failures++
	s.last = now
	if over := s.failures - t.cfg.Free; over > 0 {
		wait := t.cfg.Max
		if over <= 30 && t.cfg.Base<<(over-1) < t.cfg.Max {
			wait = t.cfg.Base << (over - 1)
		}
		s.until = now.Add(wait)
	}
	t.m[key] = s
	return max(0, s.until.Sub(now))
}

// current returns key's strikes, forgetting them once the last failure is older than Max.
// The caller holds t.mu.
func (t *throttle) current(key string, now time.Time) strikes {
	s, ok := t.m[key]
	if ok && now.Sub(s.last) >= t.cfg.Max {
		delete(t.m, key)
		return strikes{}
	}
	return s
}

// succeed clears key's failures.
func (t *throttle) succeed(key string) {
	if !t.enabled() {
		return
	}
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}

// sweep forgets idle mailboxes and, if none were idle, one arbitrary mailbox.
func (t *throttle) sweep(now time.Time) {
	before := len(t.m)
	for k, s := range t.m {
		if now.Sub(s.last) >= t.cfg.Max {
			delete(t.m, k)
		}
	}
	if len(t.m) == before {
		for k := range t.m {
			delete(t.m, k)
			break
		}
	}
}
