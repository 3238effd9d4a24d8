// Package allowlist owns a key's client-address allowlist: parsing a list of IPv4 and IPv6
// addresses and CIDR prefixes, and checking a client address against it. An empty list
// allows any address.
package allowlist

import (
	"fmt"
	"net/netip"
	"strings"
)

// Pattern is a regular expression of one entry Parse accepts, for API schemas: an IPv4
// address (no leading zeros) or an IPv6 address in RFC 3986's grammar (no zone), each with
// an optional prefix length. It is written in the syntax Go, ECMAScript and Python share.
// Parse is stricter in one corner: an IPv4-mapped prefix must be at least /96.
var Pattern = func() string {
	const (
		octet = `(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])`
		ipv4  = octet + `(\.` + octet + `){3}`
		h16   = `[0-9A-Fa-f]{1,4}`
		ls32  = `(` + h16 + `:` + h16 + `|` + ipv4 + `)`
	)
	before := func(n int) string { // up to n+1 groups before "::"
		return `((` + h16 + `:){0,` + fmt.Sprint(n) + `}` + h16 + `)?::`
	}
	ipv6 := strings.Join([]string{
		`(` + h16 + `:){6}` + ls32,
		`::(` + h16 + `:){5}` + ls32,
		`(` + h16 + `)?::(` + h16 + `:){4}` + ls32,
		before(1) + `(` + h16 + `:){3}` + ls32,
		before(2) + `(` + h16 + `:){2}` + ls32,
		before(3) + h16 + `:` + ls32,
		before(4) + ls32,
		before(5) + h16,
		before(6),
	}, "|")
	return `^(` + ipv4 + `(/(3[0-2]|[12][0-9]|[0-9]))?|(` + ipv6 + `)(/(12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]))?)$`
}()

// List is a parsed allowlist. The zero value is empty and allows any address. A List is
// immutable once parsed and safe for concurrent use.
type List struct {
	prefixes []netip.Prefix
}

// Parse reads entries, each an address ("203.0.113.7", "2001:db8::1", a bare address
// meaning /32 or /128) or a prefix ("203.0.113.0/24", "2001:db8::/32"). IPv4-mapped IPv6
// forms (::ffff:203.0.113.7) are normalised to IPv4 so that either spelling matches either
// family of client address. Host bits in a prefix are masked off. The error names the first
// bad entry and its position.
func Parse(entries []string) (List, error) {
	if len(entries) == 0 {
		return List{}, nil
	}
	prefixes := make([]netip.Prefix, 0, len(entries))
	for i, raw := range entries {
		p, err := parseEntry(strings.TrimSpace(raw))
		if err != nil {
			return List{}, fmt.Errorf("allowlist: entry %d %q: %w", i, raw, err)
		}
		prefixes = append(prefixes, p)
	}
	return List{prefixes: prefixes}, nil
}

// MustParse is Parse for fixed lists in tests and examples; it panics on a bad entry.
func MustParse(entries ...string) List {
	l, err := Parse(entries)
	if err != nil {
		panic(err)
	}
	return l
}

func parseEntry(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty entry")
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
		addr := p.Addr()
		if addr.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("IPv4-mapped prefix shorter than /96")
			}
			p = netip.PrefixFrom(addr.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an IP address: %w", err)
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zoned addresses are not allowed")
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// Empty reports whether the list has no entries (and so allows any address).
func (l List) Empty() bool { return len(l.prefixes) == 0 }

// Len returns the number of entries.
func (l List) Len() int { return len(l.prefixes) }

// Contains reports whether addr is allowed: always for an empty list, otherwise when some
// entry contains it. An invalid addr is never allowed by a non-empty list. IPv4-mapped IPv6
// addresses are compared as IPv4, and zones are ignored.
func (l List) Contains(addr netip.Addr) bool {
	if len(l.prefixes) == 0 {
		return true
	}
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Strings returns the canonical text of each entry (for snapshots and logs).
func (l List) Strings() []string {
	out := make([]string, len(l.prefixes))
	for i, p := range l.prefixes {
		out[i] = p.String()
	}
	return out
}
