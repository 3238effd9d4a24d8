package account_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/api/apitest"
)

func paramsLabel() string {
	p := account.PasswordParams
	return fmt.Sprintf("argon2id m=%dKiB t=%d p=%d salt=%dB key=%dB", p.Memory, p.Iterations, p.Parallelism, p.SaltLength, p.KeyLength)
}

// BenchmarkPasswordVerify is the baseline: one argon2id verification with the stored
// parameters, in parallel, with nothing else around it.
func BenchmarkPasswordVerify(b *testing.B) {
	hash, err := argon2id.CreateHash(apitest.Password, &account.PasswordParams)
	require.NoError(b, err)
	b.Logf("%s", paramsLabel())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, err := argon2id.ComparePasswordAndHash(apitest.Password, hash)
			if err != nil || !ok {
				b.Errorf("verify: %v %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkLogin is POST /v1/auth/login through the whole API handler under concurrent
// load: JSON, the user lookup, argon2id verification (bounded to 2×GOMAXPROCS at once)
// and the session insert on PostgreSQL. Compare with BenchmarkPasswordVerify.
func BenchmarkLogin(b *testing.B) {
	env := apitest.New(b)
	p := env.Signup("Bench Co")
	body := map[string]any{"email": p.OwnerEmail, "password": apitest.Password}
	b.Logf("%s", paramsLabel())
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if res := env.Do(http.MethodPost, "/v1/auth/login", "", body); res.Status != http.StatusOK {
				b.Errorf("login: %d %s", res.Status, res.Body)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		pct := func(q float64) float64 {
			return float64(latencies[int(q*float64(len(latencies)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
	}
}

// BenchmarkLoginUnknownUser: a login naming no account costs the same argon2id work. The
// per-account throttle is off: it would answer the repeated failures without hashing.
func BenchmarkLoginUnknownUser(b *testing.B) {
	env := apitest.New(b, func(c *api.Config) { c.LoginThrottle = account.LoginThrottle{Free: -1} })
	body := map[string]any{"email": "nobody@example.com", "password": apitest.Password}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := env.Do(http.MethodPost, "/v1/auth/login", "", body); res.Status != http.StatusUnauthorized {
				b.Errorf("login: %d %s", res.Status, res.Body)
				return
			}
		}
	})
}
