// Package clientip owns how Steller's HTTP services tell who the client is: the connection's
// peer, or, when that peer is a trusted proxy, the first untrusted hop of X-Forwarded-For read
// from the right. The built-in gateway (IP allowlists) and the control plane (rate limits)
// both resolve addresses through it, so a client that can fool one cannot fool the other.
package clientip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Resolver resolves a request's client address from its socket address and its
// X-Forwarded-For lines. The zero Resolver trusts no proxy.
type Resolver struct {
	prefixes []netip.Prefix
}

// New returns a resolver that believes X-Forwarded-For from peers inside trusted.
func New(trusted []netip.Prefix) Resolver {
	r := Resolver{prefixes: make([]netip.Prefix, 0, len(trusted))}
	for _, p := range trusted {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		r.prefixes = append(r.prefixes, p.Masked())
	}
	return r
}

// Parse parses trusted proxies given as addresses or CIDR prefixes (blank entries are
// errors) and returns their resolver.
func Parse(entries []string) (Resolver, error) {
	prefixes := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			return Resolver{}, fmt.Errorf("trusted proxy %d %q: %w", i, strings.TrimSpace(e), err)
		}
		prefixes = append(prefixes, p)
	}
	return New(prefixes), nil
}

// ParsePrefix parses an address (taken as a single-address prefix) or a CIDR prefix.
func ParsePrefix(entry string) (netip.Prefix, error) {
	entry = strings.TrimSpace(entry)
	if strings.Contains(entry, "/") {
		return netip.ParsePrefix(entry)
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (r Resolver) trusted(a netip.Addr) bool {
	for _, p := range r.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the client address of a request from socket with the given
// X-Forwarded-For header lines (in order of appearance). Without trusted proxies, or from
// an untrusted socket, the socket is the client whatever the header says. Otherwise the
// hops are read from the right across every line: each hop a trusted proxy appended is
// skipped, and the first untrusted one is the client, so a client can prepend anything
// without effect. A hop that is not an address stops the walk at the last trusted hop.
func (r Resolver) Client(socket netip.Addr, forwardedFor []string) netip.Addr {
	client := socket.Unmap().WithZone("")
	if len(r.prefixes) == 0 || !r.trusted(client) {
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
				return client
			}
			client = addr.Unmap().WithZone("")
			if !r.trusted(client) {
				return client
			}
		}
	}
	return client
}

// FromRemoteAddr is Client for a net/http RemoteAddr ("host:port"). A RemoteAddr that is not
// an address (a unix socket, a test's fake) gives the zero Addr.
func (r Resolver) FromRemoteAddr(remoteAddr string, forwardedFor []string) netip.Addr {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(remoteAddr)
		if splitErr != nil {
			host = remoteAddr
		}
		a, perr := netip.ParseAddr(host)
		if perr != nil {
			return netip.Addr{}
		}
		return r.Client(a, forwardedFor)
	}
	return r.Client(ap.Addr(), forwardedFor)
}

// LimitKey is the rate-limit key of a client address: an IPv4 address itself, an IPv6
// address's /64 (one subscriber's usual allocation, so rotating addresses inside it does
// not escape a limit). IPv4-mapped addresses count as IPv4.
func LimitKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}
