package clientip_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/clientip"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	tp, err := clientip.Parse([]string{"10.0.0.0/8", "::ffff:172.16.0.1", "2001:db8:f::/48"})
	require.NoError(t, err)
	cases := []struct {
		name   string
		socket string
		xff    []string
		want   string
	}{
		{"untrusted socket ignores header", "203.0.113.9", []string{"192.0.2.1"}, "203.0.113.9"},
		{"trusted socket, one hop", "10.0.0.2", []string{"198.51.100.4"}, "198.51.100.4"},
		{"spoofed left entries ignored", "10.0.0.2", []string{"192.0.2.1, 198.51.100.4"}, "198.51.100.4"},
		{"chain of trusted proxies", "10.0.0.2", []string{"192.0.2.1, 198.51.100.4, 10.9.9.9", "172.16.0.1"}, "198.51.100.4"},
		{"all trusted uses leftmost", "10.0.0.2", []string{"10.1.1.1, 10.2.2.2"}, "10.1.1.1"},
		{"no header uses socket", "10.0.0.2", nil, "10.0.0.2"},
		{"garbage hop stops the walk", "10.0.0.2", []string{"192.0.2.1, nonsense"}, "10.0.0.2"},
		{"ipv6 client behind ipv6 proxy", "2001:db8:f::1", []string{"2001:db8:abcd::5"}, "2001:db8:abcd::5"},
		{"mapped socket address", "::ffff:10.0.0.2", []string{" 198.51.100.4 "}, "198.51.100.4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tp.Client(netip.MustParseAddr(tc.socket), tc.xff)
			assert.Equal(t, tc.want, got.String())
		})
	}
	none, err := clientip.Parse(nil)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.2", none.Client(netip.MustParseAddr("10.0.0.2"), []string{"1.2.3.4"}).String())
}

func TestFromRemoteAddr(t *testing.T) {
	t.Parallel()
	r := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("::ffff:192.168.0.0/112")})
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"ipv4 peer with port", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"trusted proxy names the client", "10.1.2.3:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"ipv6 peer", "[2001:db8::1]:4000", nil, "2001:db8::1"},
		{"ipv6 proxy", "[fd00::1]:4000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"mapped ipv4 peer", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"mapped trusted prefix", "192.168.3.4:1", []string{"198.51.100.2"}, "198.51.100.2"},
		{"bare address", "203.0.113.7", nil, "203.0.113.7"},
		{"not an address", "@unix", []string{"198.51.100.1"}, "invalid IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, r.FromRemoteAddr(tc.remote, tc.xff).String())
		})
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	t.Parallel()
	_, err := clientip.Parse([]string{"10.0.0.1", "nonsense"})
	require.ErrorContains(t, err, "nonsense")
	_, err = clientip.Parse([]string{""})
	require.Error(t, err)
}

func TestLimitKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	key := func(s string) string { return clientip.LimitKey(netip.MustParseAddr(s)) }
	assert.Equal(t, "203.0.113.7", key("203.0.113.7"))
	assert.Equal(t, "203.0.113.7", key("::ffff:203.0.113.7"), "IPv4-mapped counts as IPv4")
	assert.Equal(t, key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"))
	assert.Equal(t, "2001:db8:1:2::/64", key("2001:db8:1:2:abcd::9"))
	assert.NotEqual(t, key("2001:db8:1:2::1"), key("2001:db8:1:3::1"))
	assert.Equal(t, key("fe80::1%eth0"), key("fe80::2"), "zones do not split a /64")
}
