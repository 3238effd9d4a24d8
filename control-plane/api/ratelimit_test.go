package api

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLimiterWindowsAndBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{Requests: 2, Per: time.Minute}, func() time.Time { return now })
	for range 2 {
		ok, _ := l.allow("a")
		assert.True(t, ok)
	}
	ok, wait := l.allow("a")
	assert.False(t, ok)
	assert.Equal(t, time.Minute, wait)
	assert.Equal(t, "60", retryAfterSeconds(wait))
	ok, _ = l.allow("b")
	assert.True(t, ok, "keys are limited apart")
	now = now.Add(30 * time.Second)
	_, wait = l.allow("a")
	assert.Equal(t, 30*time.Second, wait)
	now = now.Add(30 * time.Second)
	ok, _ = l.allow("a")
	assert.True(t, ok, "a new window")

	off := newLimiter(RateLimit{Requests: -1}, func() time.Time { return now })
	for range 100 {
		ok, _ := off.allow("x")
		assert.True(t, ok)
	}

	// The map never grows past its bound.
	big := newLimiter(RateLimit{Requests: 1, Per: time.Hour}, func() time.Time { return now })
	for i := range maxTrackedClients + 10 {
		big.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String())
	}
	assert.LessOrEqual(t, len(big.windows), maxTrackedClients)
}
