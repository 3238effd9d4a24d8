// Package testclock owns the settable clock that tests hand to code that takes a clock
// (a `func() time.Time`): it stands still until the test moves it, and is safe to read
// from the goroutines of the code under test.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock showing start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time; pass c.Now where code wants a clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
