package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/readinessquery"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/internal/testenv"
)

// Issue 12, part 5: orders sent through the built-in gateway over real HTTP, with and
// without an Idempotency-Key, reach ClickHouse through Kafka and the ingest with the key's
// hash (never the key), and the readiness query counts them and links the retry.
func TestIdempotencyKeyHashFromTheEdgeToClickHouse(t *testing.T) {
	t.Parallel()
	k := testenv.NewKafka(t)
	p := startPipeline(t, k.Brokers, k.Topic(t, "request-logs", 3))
	const key = "order-2026-12-03-0042"

	start := time.Now().UTC()
	send := func(idempotencyKey string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, p.gateway+"/v1/orders", strings.NewReader(`{"product_id":"p","amount_cents":500}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+p.fx.Secret(edgetest.KeyTestFull))
		req.Header.Set("Content-Type", "application/json")
		if idempotencyKey != "" {
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return resp.Header.Get("X-Request-Id")
	}
	want := map[string]string{send(key): edge.IdempotencyKeyHash(key), send(key): edge.IdempotencyKeyHash(key), send(""): ""}
	require.Len(t, want, 3)

	got := map[string]string{}
	require.Eventually(t, func() bool {
		rows, err := p.ch.Conn.Query(context.Background(), "SELECT request_id, idempotency_key_hash FROM "+p.ch.Database+
			".request_logs FINAL WHERE partner_id = ? AND route = 'orders.create'", edgetest.PartnerActive)
		require.NoError(t, err)
		defer rows.Close()
		got = map[string]string{}
		for rows.Next() {
			var id, hash string
			require.NoError(t, rows.Scan(&id, &hash))
			got[id] = hash
		}
		require.NoError(t, rows.Err())
		return len(got) >= len(want)
	}, 60*time.Second, 100*time.Millisecond, "the orders did not reach ClickHouse")
	assert.Equal(t, want, got)
	assert.Regexp(t, `^[0-9a-f]{16}$`, edge.IdempotencyKeyHash(key))

	store, err := readinessquery.New(p.ch.Conn, p.ch.Database)
	require.NoError(t, err)
	traffic, err := store.Traffic(context.Background(), edgetest.PartnerActive, start.Add(-time.Minute), time.Now().Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), traffic.Orders)
	assert.Equal(t, uint64(2), traffic.OrdersWithKey)
}
