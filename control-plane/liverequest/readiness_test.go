package liverequest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/readinessquery"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/liverequest"
	"github.com/steller/platform/internal/testenv"
)

// seedRequests stores the partner's sandbox requests in request_logs, each twice (a
// replayed ingest batch): 42 orders of which 39 carry an Idempotency-Key (a warning), one
// ip_not_allowed denial (a failure), 6 errors in 60 requests (a warning), and a 503
// retried after 40 ms and a 429 retried after 3 s (half the retries immediate: a failure).
func seedRequests(t *testing.T, ch testenv.ClickHouse, partnerID string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	batch := func() {
		b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO `"+ch.Database+"`.request_logs (ts, timestamp_ms, request_id, partner_id,"+
			" key_id, environment, method, route, status, client_ip, decision, denial_code, idempotency_key_hash, schema_version, ingested_at)")
		require.NoError(t, err)
		add := func(id string, at time.Time, method, route string, status uint16, denial, hash string) {
			decision := "allow"
			if denial != "" {
				decision = "deny"
			}
			require.NoError(t, b.Append(at.Truncate(time.Second), uint64(at.UnixMilli()), id, partnerID, "key_1", "test", method, route,
				status, "10.0.0.1", decision, denial, hash, uint8(1), now))
		}
		base := now.Add(-48 * time.Hour)
		for i := range 40 {
			hash := fmt.Sprintf("%016x", i+1)
			if i >= 37 {
				hash = ""
			}
			add(fmt.Sprintf("req_o%02d", i), base.Add(time.Duration(i)*time.Minute), "POST", "orders.create", 201, "", hash)
		}
		for i := range 12 {
			add(fmt.Sprintf("req_c%02d", i), base.Add(time.Hour+time.Duration(i)*time.Minute), "GET", "catalog.list", 200, "", "")
		}
		add("req_e1", base.Add(2*time.Hour), "GET", "orders.get", 404, "", "")
		add("req_e2", base.Add(2*time.Hour+time.Minute), "GET", "orders.get", 404, "", "")
		add("req_e3", base.Add(2*time.Hour+2*time.Minute), "GET", "orders.get", 422, "", "")
		add("req_ip", base.Add(3*time.Hour), "GET", "catalog.list", 403, "ip_not_allowed", "")
		add("req_503", base.Add(4*time.Hour), "POST", "orders.create", 503, "", "00000000000000ff")
		add("req_503r", base.Add(4*time.Hour+40*time.Millisecond), "POST", "orders.create", 201, "", "00000000000000ff")
		add("req_429", base.Add(5*time.Hour), "GET", "balance.get", 429, "", "")
		add("req_429r", base.Add(5*time.Hour+3*time.Second), "GET", "balance.get", 200, "", "")
		// Outside the window: must not count.
		add("req_old", now.Add(-8*24*time.Hour), "POST", "orders.create", 500, "ip_not_allowed", "")
		require.NoError(t, b.Send())
	}
	batch()
	batch()
}

// seedWebhooks gives the partner a sandbox endpoint with 20 attempts in the window, 18
// answered 2xx and the latest among them (a warning), plus failures before the window.
func seedWebhooks(t *testing.T, e env, partnerID, workspaceID string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	endpoint := ident.New("whe")
	_, err := e.Pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, partner_id, workspace_id, environment, url, event_types, secret)
VALUES ($1, $2, $3, 'test', 'https://hooks.example/steller', '{order.completed}', 'whsec_x')`, endpoint, partnerID, workspaceID)
	require.NoError(t, err)
	for i := range 25 {
		delivery := ident.New("whd")
		_, err := e.Pool.Exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, workspace_id, event_type, payload)
VALUES ($1, $2, $3, $4, $5, 'order.completed', '{}')`, delivery, ident.New("evt"), endpoint, partnerID, workspaceID)
		require.NoError(t, err)
		at, code := now.Add(-time.Duration(25-i)*time.Hour), 200
		switch {
		case i < 5:
			at, code = now.Add(-10*24*time.Hour), 500 // before the window
		case i == 7 || i == 9:
			code = 502
		}
		_, err = e.Pool.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms) VALUES ($1, 1, $2, $3, 12)`,
			delivery, at, code)
		require.NoError(t, err)
	}
}

// The report through the admin API, against request-log rows in ClickHouse and webhook
// attempts in PostgreSQL, equals the verdicts and figures worked out by hand from the
// seeded rows.
func TestReadinessReportFromSeededTraffic(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(context.Background(), ch.Conn, ch.Database))
	store, err := readinessquery.New(ch.Conn, ch.Database)
	require.NoError(t, err)
	e := setup(t, store)
	p := e.Signup("Gale Gifts")
	now := e.Clock.Now().UTC()
	seedRequests(t, ch, p.PartnerID, now)
	seedWebhooks(t, e, p.PartnerID, p.WorkspaceID, now)

	res := e.Do(http.MethodPost, "/v1/live-requests", p.Token, validRequest())
	require.Equal(t, http.StatusCreated, res.Status, string(res.Body))
	res = e.Do(http.MethodGet, "/v1/admin/live-requests/"+decode[liverequest.LiveRequest](t, res.Body).ID, e.admin, nil)
	require.Equal(t, http.StatusOK, res.Status, string(res.Body))
	rep := decode[liverequest.ReviewedLiveRequest](t, res.Body).Readiness
	require.Len(t, rep.Checks, 5)
	got := map[string]liverequest.Check{}
	for _, c := range rep.Checks {
		got[c.Name] = c
	}
	// Worked out from the seed (each row once, the old one outside the window): 42 orders
	// (40, the 503 and its retry), 39 with a key; 60 requests, of which 4xx: 404, 404, 422,
	// the denial and the 429 = 5, 5xx: the 503 = 1; 2 retryable answers, both retried, after
	// 40 ms and 3 s (quantileExact's median of two is the upper one); webhooks: 20 attempts
	// in the window, 18 answered 2xx, the latest 200.
	want := map[string]struct {
		verdict string
		figures map[string]any
	}{
		"idempotency_keys": {"warn", map[string]any{"orders": 42.0, "orders_with_key": 39.0, "share": 39.0 / 42}},
		"webhook_endpoint": {"warn", map[string]any{"endpoints": 1.0, "attempts": 20.0, "attempts_2xx": 18.0, "share_2xx": 0.9, "last_status": 200.0}},
		"ip_allowlist":     {"fail", map[string]any{"denials": 1.0, "keys": 1.0, "addresses": 1.0}},
		"error_rate":       {"warn", map[string]any{"requests": 60.0, "client_errors": 5.0, "server_errors": 1.0, "error_rate": 0.1}},
		"retry_backoff": {"fail", map[string]any{"retryable_answers": 2.0, "retried": 2.0, "immediate_retries": 1.0, "min_gap_ms": 40.0,
			"median_gap_ms": 3000.0, "min_backoff_ms": 1000.0, "retry_horizon_ms": 300000.0}},
	}
	for name, w := range want {
		c := got[name]
		assert.Equal(t, w.verdict, c.Verdict, "%s: %s", name, c.Detail)
		assert.InDeltaMapValues(t, w.figures, c.Figures, 1e-9, name)
		if name == "idempotency_keys" {
			assert.Equal(t, "/docs/idempotency", c.Doc)
		} else {
			assert.Equal(t, "/docs/going-live#"+name, c.Doc)
		}
	}
	assert.Equal(t, "fail", rep.Verdict)
	assert.Equal(t, now.Add(-7*24*time.Hour).Truncate(time.Second), rep.WindowStart.Truncate(time.Second))
}
