package gateway

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	tp, err := parseTrustedProxies([]string{"10.0.0.0/8", "::ffff:172.16.0.1", "2001:db8:f::/48"})
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
			got := tp.clientAddr(netip.MustParseAddr(tc.socket), tc.xff)
			assert.Equal(t, tc.want, got.String())
		})
	}
	none, err := parseTrustedProxies(nil)
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.2", none.clientAddr(netip.MustParseAddr("10.0.0.2"), []string{"1.2.3.4"}).String())
}
