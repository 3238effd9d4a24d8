package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/account"
)

// livePortOffset moves this test's steller dev servers clear of the other tests' ones.
const livePortOffset = 400

// edgeCall sends a partner request through the gateway with key and returns the status,
// the edge's request id and the body.
func edgeCall(t *testing.T, method, url, key, idempotencyKey, body string) (int, string, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("X-Request-Id"), raw
}

// orderEventsOf reads every partition of the order-event topic from the start until want
// events of orderID arrived (or 30 s passed) and returns those it found.
func orderEventsOf(t *testing.T, brokers []string, orderID string, want int) []orderevent.Event {
	t.Helper()
	conn, err := kafka.Dial("tcp", brokers[0])
	require.NoError(t, err)
	parts, err := conn.ReadPartitions(topic.OrderEvents)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.NotEmpty(t, parts)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var found []orderevent.Event
	var wg sync.WaitGroup
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic.OrderEvents, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		wg.Go(func() {
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				ev, err := orderevent.Decode(m.Value)
				if !assert.NoError(t, err, string(m.Value)) || ev.OrderID != orderID {
					continue
				}
				assert.Equal(t, ev.PartnerID, string(m.Key), "order events are keyed by partner")
				mu.Lock()
				found = append(found, ev)
				if len(found) >= want {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return found
}

// TestLiveOrdersGoThroughTheGatewayToTheLiveVendor walks a partner going live on a running
// `steller dev`: an admin approves the partner for live, the partner creates a live key,
// and with it, through the built-in gateway, reads the catalog and orders a card. The
// order completes in the live vendor stand-in's tables (not the sandbox's) and its events
// reach Kafka with environment live, as the production API must publish them, and the
// ingest stores them in ClickHouse's order_events as live. The live
// stand-in has no magic values (42, the sandbox's vendor_timeout, completes) and no
// balance, while the partner's test key still reaches the sandbox.
func TestLiveOrdersGoThroughTheGatewayToTheLiveVendor(t *testing.T) {
	t.Parallel()
	bin := buildSteller(t)
	dataDir, _ := devDataDir(t)
	run := startDev(t, bin, dataDir, livePortOffset)
	cp, gw := run.controlPlane, run.gateway
	require.NotEmpty(t, run.liveVendor, "the banner names the live vendor")
	require.NotEmpty(t, run.kafka, "the banner names the Kafka brokers")

	// The live vendor, like the sandbox, serves only what the edge signed.
	forged, err := http.NewRequest(http.MethodGet, run.liveVendor+"/v1/catalog", nil)
	require.NoError(t, err)
	for h, v := range map[string]string{"X-Steller-Partner-Id": "ptr_forged", "X-Steller-Workspace-Id": "ws_forged", "X-Steller-Environment": "live", "X-Steller-Key-Id": "key_forged"} {
		forged.Header.Set(h, v)
	}
	resp, err := http.DefaultClient.Do(forged)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, string(raw))
	assert.Contains(t, string(raw), `"code":"edge_signature_missing"`)

	var signup account.SignupBody
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, cp+"/v1/public/signup", "", map[string]string{
		"company": "Live Gifts", "name": "Liv Ely", "email": "ops@live-gifts.example", "password": "going-Live-today-1",
	}, &signup))
	session, testKey, partnerID := signup.Session.Token, signup.APIKey.Secret, signup.Partner.ID
	liveKeyBody := map[string]any{"name": "production", "environment": "live",
		"roles": []string{"catalog:read", "orders:read", "orders:write", "balance:read"}}
	var problem struct {
		Code string `json:"code"`
	}
	require.Equal(t, http.StatusForbidden, call(t, http.MethodPost, cp+"/v1/keys", session, liveKeyBody, &problem),
		"a live key before live approval")

	// A platform admin approves the partner for live; then a live key can be made.
	var admin struct {
		Session struct {
			Token string `json:"token"`
		} `json:"session"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, cp+"/v1/admin/auth/login", "",
		map[string]string{"email": run.adminEmail, "password": run.adminPassword}, &admin))
	var approved struct {
		LiveApprovedAt *time.Time `json:"live_approved_at"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, cp+"/v1/admin/partners/"+partnerID+"/approve-live", admin.Session.Token, nil, &approved))
	var liveKey struct {
		Secret      string `json:"secret"`
		Environment string `json:"environment"`
	}
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, cp+"/v1/keys", session, liveKeyBody, &liveKey))
	require.True(t, strings.HasPrefix(liveKey.Secret, "sk_live_"), "not a live key")

	// The catalog through the gateway with the live key (edge sync brings the key within
	// about a second): the live vendor's, without the sandbox's magic product.
	var status int
	var body []byte
	require.Eventually(t, func() bool {
		status, _, body = edgeCall(t, http.MethodGet, gw+"/v1/catalog", liveKey.Secret, "", "")
		return status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "the live key never reached the live vendor: %d %s", status, body)
	var catalog struct {
		Products []struct {
			ID string `json:"id"`
		} `json:"products"`
	}
	require.NoError(t, json.Unmarshal(body, &catalog))
	require.NotEmpty(t, catalog.Products)
	for _, p := range catalog.Products {
		assert.NotEqual(t, "sbx_insufficient", p.ID, "the live catalog sells the sandbox's magic product")
	}

	// No fake money live; the test key of the same partner still reaches the sandbox's.
	status, _, body = edgeCall(t, http.MethodGet, gw+"/v1/balance", liveKey.Secret, "", "")
	assert.Equal(t, http.StatusNotFound, status, string(body))
	assert.Contains(t, string(body), `"code":"balance_not_available"`)
	require.Eventually(t, func() bool {
		status, _, body = edgeCall(t, http.MethodGet, gw+"/v1/balance", testKey, "", "")
		return status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "the test key never reached the sandbox: %d %s", status, body)
	assert.Contains(t, string(body), `"balance_cents":100000`)

	// A live order of 42 cents: the sandbox's vendor_timeout amount, ordinary live.
	status, requestID, body := edgeCall(t, http.MethodPost, gw+"/v1/orders", liveKey.Secret, "live-order-1",
		`{"product_id":"sbx_open_prepaid","amount_cents":42}`)
	require.Equal(t, http.StatusCreated, status, string(body))
	require.NotEmpty(t, requestID)
	var order struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		RequestID string `json:"request_id"`
		Card      *struct {
			Code string `json:"code"`
		} `json:"card"`
		FailureReason *string `json:"failure_reason"`
	}
	require.NoError(t, json.Unmarshal(body, &order))
	assert.Equal(t, "pending", order.Status)
	assert.Equal(t, requestID, order.RequestID)
	require.Eventually(t, func() bool {
		status, _, body = edgeCall(t, http.MethodGet, gw+"/v1/orders/"+order.ID, liveKey.Secret, "", "")
		return status == http.StatusOK && json.Unmarshal(body, &order) == nil && order.Status != "pending"
	}, 20*time.Second, 100*time.Millisecond, "the live order never finished: %s", body)
	assert.Equal(t, "completed", order.Status, string(body))
	assert.Nil(t, order.FailureReason)
	require.NotNil(t, order.Card)
	assert.True(t, strings.HasPrefix(order.Card.Code, "LIV-"), order.Card.Code)
	status, _, _ = edgeCall(t, http.MethodGet, gw+"/v1/orders/"+order.ID, testKey, "", "")
	assert.Equal(t, http.StatusNotFound, status, "the sandbox knows the live order")

	// The order is the live vendor's, in its own table, and not the sandbox's.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, run.postgres)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var partner, stored, storedRequest string
	var amount int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT partner_id, status, request_id, amount_cents FROM live_orders WHERE id = $1`, order.ID).
		Scan(&partner, &stored, &storedRequest, &amount))
	assert.Equal(t, partnerID, partner)
	assert.Equal(t, "completed", stored)
	assert.Equal(t, requestID, storedRequest)
	assert.Equal(t, int64(42), amount)
	var inSandbox int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM sandbox_orders WHERE id = $1 OR partner_id = $2`, order.ID, partnerID).Scan(&inSandbox))
	assert.Zero(t, inSandbox, "the live order is in the sandbox's table")

	// Its events are on the order-event topic with environment live.
	events := orderEventsOf(t, run.kafka, order.ID, 2)
	require.Len(t, events, 2, "order events of %s on %s", order.ID, topic.OrderEvents)
	types := map[string]orderevent.Event{}
	for _, ev := range events {
		require.NoError(t, ev.Validate())
		assert.Equal(t, "live", ev.Environment)
		assert.Equal(t, partnerID, ev.PartnerID)
		assert.Equal(t, requestID, ev.RequestID)
		assert.Equal(t, int64(42), ev.AmountCents)
		assert.Equal(t, orderevent.ID(order.ID, ev.Type), ev.EventID)
		types[ev.Type] = ev
	}
	assert.Contains(t, types, orderevent.TypeCreated)
	assert.Contains(t, types, orderevent.TypeCompleted)

	// The ingest stores them as live orders in ClickHouse, beside the sandbox's.
	ch, err := warehouse.Open(ctx, warehouse.Config{Addr: run.clickhouse, User: "default"})
	require.NoError(t, err)
	defer ch.Close()
	require.Eventually(t, func() bool {
		var n uint64
		err := ch.QueryRow(ctx, "SELECT uniqExact(event_id) FROM steller.order_events WHERE order_id = ? AND environment = 'live'", order.ID).Scan(&n)
		return err == nil && n == 2
	}, 30*time.Second, 200*time.Millisecond, "the live order's events never reached ClickHouse")

	run.stop(t)
}
