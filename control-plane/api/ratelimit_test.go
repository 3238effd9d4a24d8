package api

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{"peer without proxies", "203.0.113.5:4000", "198.51.100.1", nil, "203.0.113.5"},
		{"untrusted peer's header ignored", "203.0.113.5:4000", "198.51.100.1", proxies, "203.0.113.5"},
		{"trusted proxy names the client", "10.1.2.3:4000", "198.51.100.1", proxies, "198.51.100.1"},
		{"spoofed left entries skipped", "10.1.2.3:4000", "1.1.1.1, 198.51.100.1, 10.9.9.9", proxies, "198.51.100.1"},
		{"all hops trusted", "10.1.2.3:4000", "10.4.4.4", proxies, "10.1.2.3"},
		{"garbage header", "10.1.2.3:4000", "not-an-ip", proxies, "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:4000", "", proxies, "2001:db8::1"},
		{"ipv6 proxy", "[fd00::1]:4000", "2001:db8::7", proxies, "2001:db8::7"},
		{"mapped ipv4", "[::ffff:203.0.113.9]:1", "", nil, "203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, clientIP(tc.remote, tc.xff, tc.trusted))
		})
	}
}

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
