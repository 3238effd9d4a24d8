package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/internal/clientip"
)

// RateLimit allows Requests per Per from one client IP (a fixed window). A zero
// RateLimit disables the limit.
type RateLimit struct {
	// Requests is the number of requests allowed in each window.
	Requests int
	// Per is the window's length.
	Per time.Duration
}

// Default limits per client IP.
var (
	// DefaultSignupLimit bounds signups and invitation acceptances (accounts created).
	DefaultSignupLimit = RateLimit{Requests: 10, Per: time.Hour}
	// DefaultLoginLimit bounds sign-in attempts (users and admins).
	DefaultLoginLimit = RateLimit{Requests: 20, Per: time.Minute}
)

// maxTrackedClients bounds the limiter's memory: past it, expired windows are swept and
// then arbitrary clients forgotten (they start a fresh window).
const maxTrackedClients = 100_000

// limiter is a fixed-window counter per key with a bounded map.
type limiter struct {
	limit RateLimit
	clock func() time.Time

	mu      sync.Mutex
	windows map[string]window
}

type window struct {
	start time.Time
	count int
}

func newLimiter(limit RateLimit, clock func() time.Time) *limiter {
	return &limiter{limit: limit, clock: clock, windows: map[string]window{}}
}

// allow counts one request of key and reports whether it is within the limit; when it
// is not, retryAfter is how long until the key's window ends.
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
	if l.limit.Requests <= 0 || l.limit.Per <= 0 {
		return true, 0
	}
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	w, found := l.windows[key]
	if !found || now.Sub(w.start) >= l.limit.Per {
		if !found && len(l.windows) >= maxTrackedClients {
			l.evict(now)
		}
		w = window{start: now}
	}
	if w.count >= l.limit.Requests {
		return false, w.start.Add(l.limit.Per).Sub(now)
	}
	w.count++
	l.windows[key] = w
	return true, 0
}

// evict drops expired windows and, if none had expired, one arbitrary entry.
func (l *limiter) evict(now time.Time) {
	before := len(l.windows)
	for k, w := range l.windows {
		if now.Sub(w.start) >= l.limit.Per {
			delete(l.windows, k)
		}
	}
	if len(l.windows) < before {
		return
	}
	for k := range l.windows {
		delete(l.windows, k)
		return
	}
}

// retryAfterSeconds renders a wait as a Retry-After value (whole seconds, at least 1).
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// Allow counts one attempt of the sign-up or sign-in operation op (account.OpSignup,
// account.OpLogin, account.OpAdminLogin, workspace.OpAcceptInvite) from r's client against
// the limit the API applies to it, so the portal's forms and the API share one budget per
// address; a refusal carries the wait. Other operations are always allowed.
func (a *API) Allow(op string, r *http.Request) (ok bool, retryAfter time.Duration) {
	var l *limiter
	switch op {
	case account.OpSignup, acceptInviteOp:
		l = a.signupLimit
	case account.OpLogin, account.OpAdminLogin:
		l = a.loginLimit
	default:
		return true, 0
	}
	client := clientip.LimitKey(a.clients.FromRemoteAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For")))
	return l.allow(op + "|" + client)
}
