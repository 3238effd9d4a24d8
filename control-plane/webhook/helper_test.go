package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/control-plane/webhook"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	pool    *pgxpool.Pool
	svc     *webhook.Service
	river   *river.Client[pgx.Tx]
	api     humatest.TestAPI
	handler http.Handler
	clock   *clock
	tenant  partnertest.Tenant
	as      string
}

type options struct {
	timeout  time.Duration
	resolve  webhook.Resolver
	guard    *webhook.Guard
	noWorker bool
}

// setup builds the service on a fresh database with River's tables, a River client that
// works deliveries (allowed to reach loopback receivers) and a seeded tenant.
func setup(t *testing.T, o options) *env {
	t.Helper()
	ctx := context.Background()
	pool := partnertest.DB(t)
	require.NoError(t, webhook.MigrateQueue(ctx, pool))
	log := slog.New(slog.DiscardHandler)
	clk := &clock{t: time.Now()}
	guard := webhook.Guard{AllowPrivateNetworks: true}
	if o.guard != nil {
		guard = *o.guard
	}
	var worker *webhook.Worker
	if !o.noWorker {
		var err error
		worker, err = webhook.NewWorker(webhook.WorkerConfig{Pool: pool, Logger: log, Now: clk.Now, Guard: guard, Resolve: o.resolve, Timeout: o.timeout})
		require.NoError(t, err)
	}
	rc, err := webhook.NewClient(webhook.ClientConfig{Pool: pool, Logger: log, Worker: worker})
	require.NoError(t, err)
	svc, err := webhook.New(webhook.Config{Pool: pool, Queue: rc, Logger: log, Now: clk.Now,
		URLs: webhook.URLPolicy{AllowHTTPForTest: true, Guard: guard}})
	require.NoError(t, err)
	if worker != nil {
		require.NoError(t, rc.Start(ctx))
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = rc.Stop(stop)
		})
	}
	handler, api := humatest.New(t)
	api.UseMiddleware(partnertest.Middleware)
	webhook.Register(api, webhook.Deps{Webhooks: svc, RBAC: partnertest.Checker{}})
	tn := partnertest.Seed(t, pool, "Hooked", true)
	return &env{pool: pool, svc: svc, river: rc, api: api, handler: handler, clock: clk, tenant: tn, as: partnertest.Header(tn.Owner)}
}

type createdEndpoint struct {
	webhook.Endpoint
	Secret string `json:"secret"`
}

func decode[T any](t *testing.T, resp *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &v), resp.Body.String())
	return v
}

// createEndpoint makes a test-environment endpoint for url through the API.
func (e *env) createEndpoint(t *testing.T, url string, types ...string) createdEndpoint {
	t.Helper()
	if len(types) == 0 {
		types = []string{"order.completed", "order.failed"}
	}
	resp := e.api.Post("/v1/webhooks/endpoints", e.as, map[string]any{"url": url, "environment": "test", "event_types": types})
	require.Equal(t, http.StatusCreated, resp.Code, resp.Body.String())
	return decode[createdEndpoint](t, resp)
}

// orderEvent is an order event as the order system publishes it.
func (e *env) orderEvent(id, typ string) []byte {
	ev := orderevent.Event{SchemaVersion: orderevent.SchemaVersion, EventID: id, Type: typ, OrderID: "ord_" + id,
		PartnerID: e.tenant.PartnerID, WorkspaceID: e.tenant.WorkspaceID, Environment: "test", ProductID: "prod_amazon_25",
		AmountCents: 2500, Currency: "USD", OrderCreatedAtMs: time.Now().UnixMilli(), OccurredAtMs: time.Now().UnixMilli(), RequestID: "req_" + id}
	if typ == orderevent.TypeFailed {
		ev.FailureReason = orderevent.ReasonOutOfStock
	}
	raw, err := orderevent.Encode(ev)
	if err != nil {
		panic(err)
	}
	return raw
}

// deliveryStatus returns the delivery's status and attempts, looked up by event id.
func (e *env) deliveries(t *testing.T, status string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE status = $1`, status).Scan(&n))
	return n
}

// retryNow makes every waiting delivery job runnable at once (standing in for time passing).
func (e *env) retryNow(t *testing.T) int {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `SELECT id FROM river_job WHERE state IN ('retryable', 'scheduled')`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	for _, id := range ids {
		_, err := e.river.JobRetry(context.Background(), id)
		require.NoError(t, err)
	}
	return len(ids)
}

// verify checks a Standard Webhooks signature independently of the package's signer:
// any of the space-separated v1 signatures made with any of secrets is accepted.
func verify(secrets []string, id, ts, sigHeader string, body []byte) bool {
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			continue
		}
		mac := hmac.New(sha256.New, key)
		io.WriteString(mac, id+"."+ts+".")
		mac.Write(body)
		want := mac.Sum(nil)
		for _, part := range strings.Fields(sigHeader) {
			version, sig, ok := strings.Cut(part, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// receiver is a webhook consumer: it verifies signatures and timestamps, dedupes by
// webhook-id, and answers what respond says (200 when nil).
type receiver struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	secrets []string
	seen    map[string]int // webhook-id -> accepted deliveries
	calls   int
	bad     int
	bodies  map[string][]byte
	sigs    []string
	respond func(n int, w http.ResponseWriter, r *http.Request) bool // true: handled (not accepted)
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, seen: map[string]int{}, bodies: map[string][]byte{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets = s
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.calls++
	n, respond, secrets := rc.calls, rc.respond, rc.secrets
	rc.mu.Unlock()
	if respond != nil && respond(n, w, r) {
		return
	}
	id, ts, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	fresh := err == nil && time.Since(time.Unix(sec, 0)).Abs() < 5*time.Minute
	if !fresh || !verify(secrets, id, ts, sig, body) {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.seen[id]++
	rc.bodies[id] = body
	rc.sigs = append(rc.sigs, sig)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) accepted() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.seen))
	for k, v := range rc.seen {
		out[k] = v
	}
	return out
}

// retryUntil keeps making waiting jobs runnable until cond holds (a job still running
// when retryNow looks is picked up on the next round).
func (e *env) retryUntil(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		if cond() {
			return true
		}
		e.retryNow(t)
		return cond()
	}, 20*time.Second, 50*time.Millisecond)
}
