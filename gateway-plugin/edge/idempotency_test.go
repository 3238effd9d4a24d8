package edge_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/gateway-plugin/edge"
)

func TestIdempotencyKeyHash(t *testing.T) {
	t.Parallel()
	full := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:])[:16] }
	cases := []struct{ name, key, want string }{
		{"absent", "", ""},
		{"short key", "order-42", full("order-42")},
		{"longest accepted", strings.Repeat("k", 255), full(strings.Repeat("k", 255))},
		{"too long links nothing", strings.Repeat("k", 256), ""},
	}
	for _, c := range cases {
		got := edge.IdempotencyKeyHash(c.key)
		assert.Equal(t, c.want, got, c.name)
		assert.Regexp(t, `^([0-9a-f]{16})?$`, got, c.name)
	}
	assert.NotEqual(t, edge.IdempotencyKeyHash("a"), edge.IdempotencyKeyHash("b"))
}

func TestNewEventCarriesTheIdempotencyKeyHashOnly(t *testing.T) {
	t.Parallel()
	req := &edge.Request{Method: "POST", Path: "/v1/orders", IdempotencyKey: "order-42"}
	e := edge.NewEvent(req, &edge.Outcome{Allowed: true, RequestID: "req_1"}, edge.Result{Status: 201})
	assert.Equal(t, edge.IdempotencyKeyHash("order-42"), e.IdempotencyKeyHash)
	assert.NotContains(t, e.IdempotencyKeyHash, "order-42")
	e = edge.NewEvent(&edge.Request{Method: "POST", Path: "/v1/orders"}, &edge.Outcome{Allowed: true, RequestID: "req_2"}, edge.Result{Status: 201})
	assert.Empty(t, e.IdempotencyKeyHash)
}

// BenchmarkIdempotencyKeyHash measures the log phase's cost of the field: one 16-byte
// string per request that carried a key.
func BenchmarkIdempotencyKeyHash(b *testing.B) {
	b.ReportAllocs()
	key := "order-2026-12-03-000042"
	for b.Loop() {
		if edge.IdempotencyKeyHash(key) == "" {
			b.Fatal("empty")
		}
	}
}
