package gateway

import (
	"fmt"
	"net/netip"
	"strings"
)

// trustedProxies resolves a request's client address. Without trusted proxies the socket
// address is the client, whatever X-Forwarded-For says. With them, X-Forwarded-For is read
// from the right: each hop appended by a trusted proxy is skipped, and the first untrusted
// hop is the client, so a client can prepend any addresses it likes without effect.
type trustedProxies struct {
	prefixes []netip.Prefix
}

func parseTrustedProxies(entries []string) (trustedProxies, error) {
	var tp trustedProxies
	for i, e := range entries {
		e = strings.TrimSpace(e)
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(e)
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if err != nil {
			return trustedProxies{}, fmt.Errorf("gateway: trusted proxy %d %q: %w", i, e, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		tp.prefixes = append(tp.prefixes, p.Masked())
	}
	return tp, nil
}

func (tp trustedProxies) trusted(a netip.Addr) bool {
	for _, p := range tp.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the client address for a request from socket with the given
// X-Forwarded-For header values (in order of appearance).
func (tp trustedProxies) clientAddr(socket netip.Addr, forwardedFor []string) netip.Addr {
	client := socket.Unmap().WithZone("")
	if len(tp.prefixes) == 0 || !tp.trusted(client) {
		return client
	}
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		hops := forwardedFor[i]
		for hops != "" {
			var hop string
			if j := strings.LastIndexByte(hops, ','); j >= 0 {
				hop, hops = hops[j+1:], hops[:j]
			} else {
				hop, hops = hops, ""
			}
			addr, err := netip.ParseAddr(strings.TrimSpace(hop))
			if err != nil {
				// A trusted proxy wrote something that is not an address: believe nothing
				// further left, and treat the last hop we could trust as the client.
				return client
			}
			client = addr.Unmap().WithZone("")
			if !tp.trusted(client) {
				return client
			}
		}
	}
	return client
}
