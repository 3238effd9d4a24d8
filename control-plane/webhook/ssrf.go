package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/steller/platform/control-plane/fault"
)

// ErrBlockedAddress is returned (wrapped) when a delivery would reach an address the SSRF
// guard refuses.
var ErrBlockedAddress = errors.New("webhook: destination address is not allowed")

// Resolver looks up a host's addresses; tests inject one to make names resolve anywhere.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// Guard decides which network addresses deliveries may reach.
type Guard struct {
	// AllowPrivateNetworks permits loopback, RFC 1918, CGNAT and ULA addresses, for local
	// development and tests. Metadata, link-local, unspecified and multicast addresses
	// stay refused.
	AllowPrivateNetworks bool
}

var (
	metadataAddrs = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
	// privateNets are refused unless AllowPrivateNetworks.
	privateNets = prefixes("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
		"::1/128", "fc00::/7")
	// alwaysBlocked are never reachable: this-network, link-local (cloud metadata lives
	// there), multicast, reserved and broadcast, IETF special-purpose and documentation.
	alwaysBlocked = prefixes("0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "192.0.0.0/24",
		"192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"::/128", "fe80::/10", "ff00::/8", "2001:db8::/32", "100::/64",
		// Local-use NAT64 (RFC 8215) and Teredo can reach IPv4 networks of their own.
		"64:ff9b:1::/48", "2001::/32")
	// nat64 embeds an IPv4 address in its last 32 bits.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour embeds an IPv4 address in bits 16-47.
	sixToFour = netip.MustParsePrefix("2002::/16")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Check returns nil when a delivery may connect to ip, or an error wrapping
// ErrBlockedAddress naming why not.
func (g Guard) Check(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	} else if sixToFour.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlockedAddress)
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return fmt.Errorf("%w: %s is a cloud metadata address", ErrBlockedAddress, ip)
		}
	}
	for _, p := range alwaysBlocked {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in %s", ErrBlockedAddress, ip, p)
		}
	}
	if !g.AllowPrivateNetworks {
		for _, p := range privateNets {
			if p.Contains(ip) {
				return fmt.Errorf("%w: %s is private or loopback (%s)", ErrBlockedAddress, ip, p)
			}
		}
	}
	return nil
}

// control is the dialer's Control hook: it sees the address actually being connected to,
// after any DNS resolution, so rebinding cannot slip a private address past the guard.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrBlockedAddress, address, err)
	}
	return g.Check(ap.Addr())
}

// NewHTTPClient returns the client deliveries use: every connection goes through the
// guard, no proxy from the environment, redirects are never followed (a 3xx is the
// answer), and timeout bounds each request. resolve may be nil (the system resolver).
func NewHTTPClient(g Guard, resolve Resolver, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	dial := dialer.DialContext
	if resolve != nil {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if _, err := netip.ParseAddr(host); err == nil {
				return dialer.DialContext(ctx, network, addr)
			}
			ips, err := resolve(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error = fmt.Errorf("webhook: %s resolved to no address", host)
			for _, ip := range ips {
				c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		}
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// URLPolicy decides which endpoint URLs may be saved.
type URLPolicy struct {
	// AllowHTTPForTest permits http:// URLs on test-environment endpoints.
	AllowHTTPForTest bool
	// Guard refuses URLs whose host is a literal blocked address (names are checked at
	// delivery time, when they are resolved).
	Guard Guard
}

// Validate checks an endpoint URL for environment ("test" or "live").
func (p URLPolicy) Validate(raw, environment string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || strings.Contains(raw, " ") {
		return fault.Invalid("body.url", "the URL must be absolute, with a host", raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && environment == "test" && p.AllowHTTPForTest:
	case u.Scheme == "http" && environment == "test":
		return fault.Invalid("body.url", "the URL must use https (http is not enabled for test endpoints here)", raw)
	default:
		return fault.Invalid("body.url", "the URL must use https", raw)
	}
	if u.User != nil {
		return fault.Invalid("body.url", "the URL must not carry credentials", raw)
	}
	if strings.Contains(raw, "#") {
		return fault.Invalid("body.url", "the URL must not have a fragment", raw)
	}
	host := strings.Trim(u.Hostname(), "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := p.Guard.Check(ip); err != nil {
			return fault.Invalid("body.url", err.Error(), raw)
		}
	} else if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if !p.Guard.AllowPrivateNetworks {
			return fault.Invalid("body.url", "localhost is not allowed", raw)
		}
	}
	return nil
}
