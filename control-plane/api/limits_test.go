package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
)

// from sends a JSON POST as a client at remoteAddr, with X-Forwarded-For lines.
func from(t *testing.T, env *apitest.Env, path, remoteAddr string, body any, forwardedFor ...string) *httptest.ResponseRecorder {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = remoteAddr
	for _, line := range forwardedFor {
		req.Header.Add("X-Forwarded-For", line)
	}
	rec := httptest.NewRecorder()
	env.API.Handler().ServeHTTP(rec, req)
	return rec
}

var badSignup = map[string]any{"company": "x", "name": "y", "email": "bad", "password": "z"}

// TestIPv6ClientsAreLimitedPerSlash64: rotating addresses inside one /64 does not escape
// the signup limit; another /64 has its own.
func TestIPv6ClientsAreLimitedPerSlash64(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *api.Config) { c.SignupLimit = api.RateLimit{Requests: 2, Per: time.Hour} })
	assert.Equal(t, http.StatusUnprocessableEntity, from(t, env, "/v1/public/signup", "[2001:db8:1:2::1]:4000", badSignup).Code)
	assert.Equal(t, http.StatusUnprocessableEntity, from(t, env, "/v1/public/signup", "[2001:db8:1:2:aaaa::7]:4001", badSignup).Code)
	res := from(t, env, "/v1/public/signup", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:4002", badSignup)
	assert.Equal(t, http.StatusTooManyRequests, res.Code, "the same /64")
	assert.NotEmpty(t, res.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusUnprocessableEntity, from(t, env, "/v1/public/signup", "[2001:db8:1:3::1]:4000", badSignup).Code, "the next /64")
}

// TestTheClientIsTheAddressTheTrustedProxyAdded: behind a trusted proxy that appends its
// own X-Forwarded-For line, the limit keys on the address the proxy saw, whatever the
// client wrote in the line it sent itself.
func TestTheClientIsTheAddressTheTrustedProxyAdded(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *api.Config) {
		c.SignupLimit = api.RateLimit{Requests: 2, Per: time.Hour}
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	for i, forged := range []string{"1.1.1.1", "1.1.1.2", "1.1.1.3"} {
		res := from(t, env, "/v1/public/signup", "10.0.0.5:5000", badSignup, forged, "203.0.113.9")
		if i < 2 {
			assert.Equal(t, http.StatusUnprocessableEntity, res.Code, forged)
		} else {
			assert.Equal(t, http.StatusTooManyRequests, res.Code, "a forged first line does not make a new client")
		}
	}
	assert.Equal(t, http.StatusUnprocessableEntity,
		from(t, env, "/v1/public/signup", "10.0.0.5:5000", badSignup, "1.1.1.1", "203.0.113.10").Code, "another client behind the proxy")
}

// TestSignInIsThrottledPerAccount: failed sign-ins for one mailbox, from any address, are
// free up to the throttle's allowance and then wait a doubling backoff (429 with
// Retry-After); an address without an account is answered the same way, so the throttle
// reveals nothing; a success clears the count.
func TestSignInIsThrottledPerAccount(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *api.Config) {
		c.LoginThrottle = account.LoginThrottle{Free: 3, Base: 2 * time.Second, Max: time.Minute}
	})
	p := env.Signup("Guarded Co")
	for _, email := range []string{p.OwnerEmail, "nobody@nowhere.example"} {
		wrong := map[string]any{"email": email, "password": "not-the-password-1"}
		for i := range 3 {
			addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String() + ":1000" // a new address each time
			assert.Equal(t, http.StatusUnauthorized, from(t, env, "/v1/auth/login", addr, wrong).Code, "%s attempt %d", email, i+1)
		}
		res := from(t, env, "/v1/auth/login", "198.51.100.9:1000", wrong)
		assert.Equal(t, http.StatusUnauthorized, res.Code, "the fourth failure is still answered, and starts the backoff")
		res = from(t, env, "/v1/auth/login", "198.51.100.10:1000", wrong)
		require.Equal(t, http.StatusTooManyRequests, res.Code, email)
		assert.Equal(t, "2", res.Header().Get("Retry-After"))
		assert.Contains(t, res.Body.String(), "too many failed sign-ins")
	}
	right := map[string]any{"email": p.OwnerEmail, "password": apitest.Password}
	assert.Equal(t, http.StatusTooManyRequests, from(t, env, "/v1/auth/login", "198.51.100.11:1000", right).Code,
		"even the right password waits: the wait is per mailbox")
	env.Clock.Advance(2 * time.Second)
	assert.Equal(t, http.StatusOK, from(t, env, "/v1/auth/login", "198.51.100.11:1000", right).Code)
	wrong := map[string]any{"email": p.OwnerEmail, "password": "not-the-password-1"}
	assert.Equal(t, http.StatusUnauthorized, from(t, env, "/v1/auth/login", "198.51.100.12:1000", wrong).Code, "the success cleared the count")
}
