package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/account"
)

// hookReceiver is a partner's webhook receiver: it verifies every delivery with its own
// Standard Webhooks check (written here, apart from the signer) and keeps the good ones.
type hookReceiver struct {
	mu       sync.Mutex
	secret   string
	received []map[string]any
	bad      int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h.secret, "whsec_"))
	ok := err == nil
	if ok {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."))
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		ok = false
		for _, sig := range strings.Fields(r.Header.Get("webhook-signature")) {
			ok = ok || hmac.Equal([]byte(sig), []byte(want))
		}
	}
	if !ok {
		h.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var payload map[string]any
	_ = json.Unmarshal(body, &payload)
	payload["webhook-id"] = r.Header.Get("webhook-id")
	h.received = append(h.received, payload)
	w.WriteHeader(http.StatusNoContent)
}

// ofType returns the verified deliveries of one event type.
func (h *hookReceiver) ofType(typ string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, p := range h.received {
		if p["type"] == typ {
			out = append(out, p)
		}
	}
	return out
}

// firstCallJourney walks a new partner's first success on a running `steller dev`: signup
// → sandbox key → a webhook endpoint → a test order through the built-in gateway → the
// order completes with a card → a signed order.completed webhook arrives → the request is
// in ClickHouse. Then the console places an order with no key copied, which shows up in
// ClickHouse the same way.
func firstCallJourney(t *testing.T, run *devRun) (secrets []string) {
	t.Helper()
	cp, gw := run.controlPlane, run.gateway

	var signup account.SignupBody
	status := call(t, http.MethodPost, cp+"/v1/public/signup", "", map[string]string{
		"company": "Journey Gifts", "name": "Jo Urney", "email": "jo@journey.example", "password": "first-call-Journey-1",
	}, &signup)
	require.Equal(t, http.StatusCreated, status)
	session, key := signup.Session.Token, signup.APIKey.Secret

	receiver := &hookReceiver{}
	hooks := httptest.NewServer(receiver)
	defer hooks.Close()
	var endpoint struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	status = call(t, http.MethodPost, cp+"/v1/webhooks/endpoints", session, map[string]any{
		"url": hooks.URL + "/steller", "environment": "test", "event_types": []string{"order.completed", "order.failed"},
	}, &endpoint)
	require.Equal(t, http.StatusCreated, status)
	receiver.mu.Lock()
	receiver.secret = endpoint.Secret
	receiver.mu.Unlock()

	// The first order, as the banner's curl places it. The new key reaches the edge by
	// edge sync within about a second.
	var order struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Card   *struct {
			Code string `json:"code"`
		} `json:"card"`
	}
	var requestID string
	require.Eventually(t, func() bool {
		req, err := http.NewRequest(http.MethodPost, gw+"/v1/orders", strings.NewReader(`{"product_id":"sbx_amazing_books","amount_cents":2500}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", "journey-1")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		requestID = resp.Header.Get("X-Request-Id")
		return resp.StatusCode < 300 && json.NewDecoder(resp.Body).Decode(&order) == nil
	}, 10*time.Second, 100*time.Millisecond, "the sandbox key never placed an order through the gateway")
	require.NotEmpty(t, order.ID)
	require.NotEmpty(t, requestID)

	require.Eventually(t, func() bool {
		order.Card = nil
		req, err := http.NewRequest(http.MethodGet, gw+"/v1/orders/"+order.ID, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&order) == nil && order.Status == "completed"
	}, 20*time.Second, 100*time.Millisecond, "the order never completed")
	require.NotNil(t, order.Card)
	assert.NotEmpty(t, order.Card.Code)

	require.Eventually(t, func() bool { return len(receiver.ofType("order.completed")) == 1 }, 20*time.Second, 100*time.Millisecond,
		"no signed order.completed webhook arrived (rejected signatures: %d)", receiver.bad)
	hook := receiver.ofType("order.completed")[0]
	data, _ := hook["data"].(map[string]any)
	assert.Equal(t, order.ID, data["order_id"])
	assert.Equal(t, requestID, data["request_id"], "the webhook does not name the edge request that created the order")
	assert.Zero(t, receiver.bad, "a delivery carried a bad signature")

	ch, err := warehouse.Open(context.Background(), warehouse.Config{Addr: run.clickhouse, User: "default"})
	require.NoError(t, err)
	defer ch.Close()
	inClickHouse := func(requestID string) func() bool {
		return func() bool {
			var partner string
			var code uint16
			err := ch.QueryRow(context.Background(),
				"SELECT partner_id, status FROM steller.request_logs WHERE request_id = ? LIMIT 1", requestID).Scan(&partner, &code)
			return err == nil && partner == signup.Partner.ID && code < 300
		}
	}
	require.Eventually(t, inClickHouse(requestID), 30*time.Second, 200*time.Millisecond, "request %s never reached ClickHouse", requestID)

	// The log explorer shows the request with the webhook its order caused, and usage counts it.
	var detail struct {
		Request struct {
			RequestID string `json:"request_id"`
			Route     string `json:"route"`
			Status    int    `json:"status"`
		} `json:"request"`
		Webhooks []struct {
			EventType string `json:"event_type"`
			Status    string `json:"status"`
		} `json:"webhooks"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, cp+"/v1/logs/"+requestID, session, nil, &detail))
	assert.Equal(t, requestID, detail.Request.RequestID)
	assert.Less(t, detail.Request.Status, 300)
	require.Len(t, detail.Webhooks, 1, "the order.completed delivery is not shown beside its request")
	assert.Equal(t, "order.completed", detail.Webhooks[0].EventType)
	assert.Equal(t, "delivered", detail.Webhooks[0].Status)
	assertJourneyMilestones(t, run, signup.Partner.ID)
	var page struct {
		Logs []struct {
			RequestID string `json:"request_id"`
		} `json:"logs"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, cp+"/v1/logs?status=2xx&method=POST&path_prefix=/v1/orders", session, nil, &page))
	require.Len(t, page.Logs, 1)
	assert.Equal(t, requestID, page.Logs[0].RequestID)
	var usage struct {
		Environments []struct {
			Environment string `json:"environment"`
			Requests    int    `json:"requests"`
		} `json:"environments"`
	}
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, cp+"/v1/usage?interval=minute&from="+
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), session, nil, &usage))
	require.NotEmpty(t, usage.Environments)
	assert.Equal(t, "test", usage.Environments[0].Environment)
	assert.GreaterOrEqual(t, usage.Environments[0].Requests, 2, "the order and its status polls")

	// The console: signed in, no key copied, the same path through the edge.
	var console struct {
		RequestID string          `json:"request_id"`
		Status    int             `json:"status"`
		Response  json.RawMessage `json:"response"`
	}
	raw, _ := json.Marshal(map[string]any{"amount_cents": 1000})
	req, err := http.NewRequest(http.MethodPost, cp+"/v1/console/test-order", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+session)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&console))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, console.Status, 300, "the console's order was refused: %s", console.Response)
	assert.Contains(t, string(console.Response), `"status":"pending"`)
	require.Eventually(t, inClickHouse(console.RequestID), 30*time.Second, 200*time.Millisecond,
		"the console's request %s never reached ClickHouse", console.RequestID)
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	return []string{key, session, receiver.secret, "first-call-Journey-1"}
}

// secretShapes are what secret material looks like: API keys, webhook secrets, session
// tokens, edge signing secrets.
var secretShapes = regexp.MustCompile(`sk_(test|live)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{16,}|sts_[A-Za-z0-9_-]{16,}|esig_[A-Za-z0-9_-]{16,}`)

// assertNoSecretsLogged reads every log line of steller dev (its stderr) and of the servers
// it ran (the log files under dataDir) and fails on any secret: anything shaped like one,
// and each of the known values (passwords, the edge token). The banner on stdout, which
// shows the sandbox key and the demo password on purpose, is not a log.
func assertNoSecretsLogged(t *testing.T, dataDir, stderr string, known ...string) {
	t.Helper()
	logs := map[string]string{"steller dev (stderr)": stderr}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "kafka-embedded" {
			return filepath.SkipDir // the broker's data, not a log
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".log") || strings.Contains(path, "/log/")) {
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			logs[path] = string(raw)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, len(logs), 2, "the servers' log files were not found under %s", dataDir)
	for name, text := range logs {
		for _, line := range strings.Split(text, "\n") {
			if m := secretShapes.FindString(line); m != "" {
				t.Errorf("%s logs secret material %q…: %s", name, m[:min(len(m), 12)], line)
			}
			for _, secret := range known {
				if secret != "" && strings.Contains(line, secret) {
					t.Errorf("%s logs a known secret (%d characters): %s", name, len(secret), line)
				}
			}
		}
	}
}

// assertJourneyMilestones waits for the milestones the journey reaches: signed_up at
// signup, first_sandbox_call and first_sandbox_order from the detector inside the control
// plane (its own consumer groups on the embedded broker), first_webhook_delivered from the
// delivery; the signup's own key is not first_key. Their milestone_reached jobs are
// worked and counted on the control plane's operations /metrics.
func assertJourneyMilestones(t *testing.T, run *devRun, partnerID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, run.postgres)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	want := []string{"signed_up", "first_sandbox_call", "first_sandbox_order", "first_webhook_delivered"}
	var got []string
	require.Eventually(t, func() bool {
		rows, err := conn.Query(ctx, `SELECT milestone FROM onboarding_milestones WHERE partner_id = $1 ORDER BY milestone`, partnerID)
		if err != nil {
			return false
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err == nil && len(got) >= len(want)
	}, 30*time.Second, 100*time.Millisecond, "milestones reached: %v", got)
	assert.ElementsMatch(t, want, got)
	require.Eventually(t, func() bool {
		resp, err := http.Get(run.controlOps + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `steller_milestones_reached_total{milestone="first_sandbox_order"} `) &&
			strings.Contains(string(body), `steller_milestone_detector_milestones_recorded_total{milestone="first_sandbox_call",stream="request_logs"} `)
	}, 30*time.Second, 100*time.Millisecond, "the milestone jobs and the detector are not counted on the control plane's /metrics")
}
