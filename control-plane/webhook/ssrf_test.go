package webhook_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/webhook"
)

// Each address with whether the guard refuses it by default (strict) and with
// AllowPrivateNetworks (lax), as local development and these tests run.
var guardCases = []struct {
	addr        string
	strict, lax bool // blocked?
	why         string
}{
	{addr: "93.184.216.34", why: "public IPv4"},
	{addr: "172.32.0.1", why: "just past 172.16.0.0/12"},
	{addr: "127.0.0.1", strict: true, why: "loopback"},
	{addr: "127.255.255.254", strict: true, why: "loopback /8"},
	{addr: "10.1.2.3", strict: true, why: "RFC 1918"},
	{addr: "172.16.0.1", strict: true, why: "RFC 1918"},
	{addr: "172.31.255.255", strict: true, why: "RFC 1918"},
	{addr: "192.168.1.1", strict: true, why: "RFC 1918"},
	{addr: "100.64.0.1", strict: true, why: "CGNAT"},
	{addr: "169.254.169.254", strict: true, lax: true, why: "cloud metadata"},
	{addr: "169.254.10.1", strict: true, lax: true, why: "link-local"},
	{addr: "0.0.0.0", strict: true, lax: true, why: "this host"},
	{addr: "224.0.0.1", strict: true, lax: true, why: "multicast"},
	{addr: "255.255.255.255", strict: true, lax: true, why: "broadcast"},
	{addr: "2606:4700:4700::1111", why: "public IPv6"},
	{addr: "::1", strict: true, why: "IPv6 loopback"},
	{addr: "::", strict: true, lax: true, why: "unspecified"},
	{addr: "fe80::1", strict: true, lax: true, why: "IPv6 link-local"},
	{addr: "fe80::1%eth0", strict: true, lax: true, why: "IPv6 link-local with a zone"},
	{addr: "fc00::1", strict: true, why: "unique local"},
	{addr: "fd12:3456::1", strict: true, why: "unique local"},
	{addr: "fd00:ec2::254", strict: true, lax: true, why: "AWS IPv6 metadata"},
	{addr: "ff02::1", strict: true, lax: true, why: "IPv6 multicast"},
	{addr: "::ffff:127.0.0.1", strict: true, why: "IPv4-mapped loopback"},
	{addr: "::ffff:10.0.0.1", strict: true, why: "IPv4-mapped RFC 1918"},
	{addr: "::ffff:169.254.169.254", strict: true, lax: true, why: "IPv4-mapped metadata"},
	{addr: "::ffff:93.184.216.34", why: "IPv4-mapped public"},
	{addr: "64:ff9b::a00:1", strict: true, why: "NAT64 of 10.0.0.1"},
	{addr: "64:ff9b::7f00:1", strict: true, why: "NAT64 of 127.0.0.1"},
	{addr: "64:ff9b::a9fe:a9fe", strict: true, lax: true, why: "NAT64 of the metadata address"},
	{addr: "64:ff9b::5db8:d822", why: "NAT64 of a public address"},
	{addr: "64:ff9b:1::a00:1", strict: true, lax: true, why: "local-use NAT64"},
	{addr: "2001:0:4136:e378::1", strict: true, lax: true, why: "Teredo"},
	{addr: "2002:7f00:1::1", strict: true, why: "6to4 of 127.0.0.1"},
	{addr: "2002:a9fe:a9fe::1", strict: true, lax: true, why: "6to4 of the metadata address"},
	{addr: "2002:5db8:d822::1", why: "6to4 of a public address"},
}

func TestGuardRefusesPrivateAndSpecialAddresses(t *testing.T) {
	t.Parallel()
	for _, c := range guardCases {
		t.Run(c.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(c.addr)
			for _, g := range []struct {
				guard   webhook.Guard
				blocked bool
			}{{webhook.Guard{}, c.strict}, {webhook.Guard{AllowPrivateNetworks: true}, c.lax}} {
				err := g.guard.Check(ip)
				if g.blocked {
					assert.ErrorIs(t, err, webhook.ErrBlockedAddress, "%s (%s), private allowed: %v", c.addr, c.why, g.guard.AllowPrivateNetworks)
				} else {
					assert.NoError(t, err, "%s (%s), private allowed: %v", c.addr, c.why, g.guard.AllowPrivateNetworks)
				}
			}
		})
	}
	assert.ErrorIs(t, webhook.Guard{AllowPrivateNetworks: true}.Check(netip.Addr{}), webhook.ErrBlockedAddress)
}

func TestURLPolicyRefusesBlockedLiteralsAndLocalhost(t *testing.T) {
	t.Parallel()
	// Every literal address of the guard table, as an endpoint URL.
	type urlCase struct {
		url         string
		strict, lax bool
	}
	var cases []urlCase
	for _, c := range guardCases {
		host := c.addr
		if netip.MustParseAddr(c.addr).Is6() {
			host = "[" + strings.ReplaceAll(c.addr, "%", "%25") + "]" // a zone's % is escaped in a URL
		}
		cases = append(cases, urlCase{"https://" + host + ":8443/hooks", c.strict, c.lax})
	}
	// Names are resolved at delivery time, except localhost, which is refused at once.
	cases = append(cases,
		urlCase{"https://hooks.example.com/steller", false, false},
		urlCase{"https://metadata.internal.example/", false, false},
		urlCase{"https://localhost/", true, false},
		urlCase{"https://LocalHost:8080/", true, false},
		urlCase{"https://api.localhost/", true, false},
	)
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			for _, p := range []struct {
				policy  webhook.URLPolicy
				blocked bool
			}{{webhook.URLPolicy{}, c.strict}, {webhook.URLPolicy{Guard: webhook.Guard{AllowPrivateNetworks: true}}, c.lax}} {
				err := p.policy.Validate(c.url, "live")
				if p.blocked {
					assert.ErrorIs(t, err, fault.ErrValidation, "private allowed: %v", p.policy.Guard.AllowPrivateNetworks)
				} else {
					assert.NoError(t, err, "private allowed: %v", p.policy.Guard.AllowPrivateNetworks)
				}
			}
		})
	}
}

// resolver answers every name from a fixed table and records what it was asked.
type resolver struct {
	mu    sync.Mutex
	names map[string]netip.Addr
	asked []string
}

func (r *resolver) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, host)
	return []netip.Addr{r.names[host]}, nil
}

// A name that resolves to a refused address is caught when the worker connects (names
// pass URL validation): the attempt fails with the guard's error and the receiver, which
// does listen there, sees nothing.
func TestDeliveryToANameResolvingToAPrivateAddressIsBlocked(t *testing.T) {
	t.Parallel()
	loopback := netip.MustParseAddr("127.0.0.1")
	cases := []struct {
		name      string
		guard     webhook.Guard
		resolveTo netip.Addr
		blocked   bool
	}{
		{"loopback by default", webhook.Guard{}, loopback, true},
		{"loopback when private networks are allowed", webhook.Guard{AllowPrivateNetworks: true}, loopback, false},
		{"metadata even when private networks are allowed", webhook.Guard{AllowPrivateNetworks: true}, netip.MustParseAddr("169.254.169.254"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			names := &resolver{names: map[string]netip.Addr{"hooks.partner.example": c.resolveTo}}
			e := setup(t, options{guard: &c.guard, resolve: names.resolve, timeout: 2 * time.Second})
			rc := newReceiver(t, e.clock)
			port := rc.srv.Listener.Addr().(*net.TCPAddr).Port
			ep := e.createEndpoint(t, "http://hooks.partner.example:"+strconv.Itoa(port)+"/hooks")
			rc.setSecrets(ep.Secret)
			require.Equal(t, 1, e.send(t, "evt_dns", webhook.EventOrderCompleted))
			id := e.deliveryID(t, "evt_dns", ep.ID)

			if !c.blocked {
				e.waitJob(t, id, "completed")
				assert.Equal(t, map[string]int{"evt_dns": 1}, rc.accepted())
				return
			}
			e.waitJob(t, id, "retryable")
			d := e.detail(t, id)
			assert.Equal(t, webhook.StatusPending, d.Status)
			require.Len(t, d.AttemptLog, 1)
			assert.Nil(t, d.AttemptLog[0].StatusCode)
			assert.Contains(t, d.AttemptLog[0].Error, webhook.ErrBlockedAddress.Error())
			assert.Contains(t, d.AttemptLog[0].Error, c.resolveTo.String())
			calls, _ := rc.count()
			assert.Zero(t, calls)
			names.mu.Lock()
			assert.Contains(t, names.asked, "hooks.partner.example")
			names.mu.Unlock()
		})
	}
}

// A redirect is the answer, never followed: the server it points to gets nothing.
func TestRedirectIsRecordedAsAFailureAndNotFollowed(t *testing.T) {
	t.Parallel()
	e := setup(t, options{})
	var elsewhere int
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		elsewhere++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(other.Close)
	rc := newReceiver(t, e.clock)
	rc.respond = func(_, _ int, w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, other.URL+"/internal", http.StatusFound)
		return true
	}
	ep := e.createEndpoint(t, rc.srv.URL)
	rc.setSecrets(ep.Secret)
	require.Equal(t, 1, e.send(t, "evt_redirect", webhook.EventOrderCompleted))
	id := e.deliveryID(t, "evt_redirect", ep.ID)

	e.waitJob(t, id, "retryable")
	d := e.detail(t, id)
	assert.Equal(t, webhook.StatusPending, d.Status)
	require.Len(t, d.AttemptLog, 1)
	require.NotNil(t, d.AttemptLog[0].StatusCode)
	assert.Equal(t, http.StatusFound, *d.AttemptLog[0].StatusCode)
	assert.Equal(t, "HTTP 302", d.AttemptLog[0].Error)
	mu.Lock()
	assert.Zero(t, elsewhere)
	mu.Unlock()
	calls, _ := rc.count()
	assert.Equal(t, 1, calls)
}
