package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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
	"github.com/steller/platform/control-plane/quota"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testclock"
)

type env struct {
	pool    *pgxpool.Pool
	svc     *webhook.Service
	river   *river.Client[pgx.Tx]
	api     humatest.TestAPI
	handler http.Handler
	clock   *testclock.Clock
	tenant  partnertest.Tenant
	as      string
	opts    options
	guard   webhook.Guard
}

type options struct {
	timeout  time.Duration
	resolve  webhook.Resolver
	guard    *webhook.Guard
	noWorker bool
	// idle makes the River client without starting it (benchmarks start it themselves).
	idle bool
	// endpointLimit is Config.EndpointLimit.
	endpointLimit int
	// testSends, when set, limits test sends per partner (on the env's clock).
	testSends quota.Rate
	// clockStart, when set, is where the clock starts instead of an hour ahead.
	clockStart time.Time
}

// setup builds the service on a fresh database with River's tables, a River client that
// works deliveries (allowed to reach loopback receivers) and a seeded tenant.
//
// The clock starts an hour ahead of real time and whole to the second: River schedules a
// retry at the worker's clock plus the wait, so every retry lies in River's future and runs
// only when a test calls retryNow, and the times read back from PostgreSQL compare exactly.
func setup(t testing.TB, o options) *env {
	t.Helper()
	ctx := context.Background()
	pool := partnertest.DB(t)
	require.NoError(t, webhook.MigrateQueue(ctx, pool))
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	if !o.clockStart.IsZero() {
		start = o.clockStart
	}
	e := &env{pool: pool, opts: o, clock: testclock.New(start), guard: webhook.Guard{AllowPrivateNetworks: true}}
	if o.guard != nil {
		e.guard = *o.guard
	}
	e.river, e.svc = e.newQueue(t)
	if !o.noWorker && !o.idle {
		e.start(t)
	}
	var log humatest.TB = t
	if _, ok := t.(*testing.B); ok {
		log = quiet{t} // benchmarks print every log line, and humatest logs each request
	}
	handler, api := humatest.New(log)
	api.UseMiddleware(partnertest.Middleware)
	webhook.Register(api, webhook.Deps{Webhooks: e.svc, RBAC: partnertest.Checker{}})
	e.tenant = partnertest.Seed(t, pool, "Hooked", true)
	e.api, e.handler, e.as = api, handler, partnertest.Header(e.tenant.Owner)
	return e
}

// quiet is a humatest.TB that drops humatest's request logs.
type quiet struct{ testing.TB }

func (quiet) Log(...any)          {}
func (quiet) Logf(string, ...any) {}

// newQueue makes a River client (with a delivery worker unless noWorker) and a Service
// inserting into it, on the env's database.
func (e *env) newQueue(t testing.TB) (*river.Client[pgx.Tx], *webhook.Service) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	var worker *webhook.Worker
	if !e.opts.noWorker {
		var err error
		worker, err = webhook.NewWorker(webhook.WorkerConfig{Pool: e.pool, Logger: log, Now: e.clock.Now,
			Guard: e.guard, Resolve: e.opts.resolve, Timeout: e.opts.timeout})
		require.NoError(t, err)
	}
	rc, err := webhook.NewClient(webhook.ClientConfig{Pool: e.pool, Logger: log, Worker: worker})
	require.NoError(t, err)
	var tests *quota.Limiter
	if e.opts.testSends.Requests > 0 {
		var err error
		tests, err = webhook.TestSendLimiter(e.pool, e.opts.testSends, e.clock.Now)
		require.NoError(t, err)
	}
	svc, err := webhook.New(webhook.Config{Pool: e.pool, Queue: rc, Logger: log, Now: e.clock.Now,
		URLs: webhook.URLPolicy{AllowHTTPForTest: true, Guard: e.guard}, EndpointLimit: e.opts.endpointLimit, TestSends: tests})
	require.NoError(t, err)
	return rc, svc
}

// start starts the env's River client; it is stopped when the test ends.
func (e *env) start(t testing.TB) {
	t.Helper()
	rc := e.river
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.Stop(stop)
	})
}

// crashAndRestart stops the River client the hard way (running deliveries have their
// context cancelled mid-request), then starts a new client, worker and Service on the
// same database, as a restarted process would.
func (e *env) crashAndRestart(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.river.StopAndCancel(ctx))
	e.river, e.svc = e.newQueue(t)
	e.start(t)
}

type createdEndpoint struct {
	webhook.Endpoint
	Secret string `json:"secret"`
}

func decode[T any](t testing.TB, resp *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(resp.Body.Bytes(), &v), resp.Body.String())
	return v
}

// createEndpoint makes a test-environment endpoint for url through the API.
func (e *env) createEndpoint(t testing.TB, url string, types ...string) createdEndpoint {
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

// deliveries counts the deliveries in status.
func (e *env) deliveries(t testing.TB, status string) int {
	t.Helper()
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE status = $1`, status).Scan(&n))
	return n
}

// retryNow makes every waiting delivery job runnable at once (standing in for time passing).
func (e *env) retryNow(t testing.TB) int {
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

// receiver is a webhook consumer: it verifies every request with verifyWebhook against its
// own clock (the test clock), dedupes by webhook-id, and answers 204 unless respond fails
// the request. A request that fails verification fails the test when it ends, unless
// refusalsExpected.
type receiver struct {
	srv  *httptest.Server
	now  func() time.Time
	done chan struct{} // closed when the test ends, releasing handlers that hang
	mu   sync.Mutex
	// secrets verify signatures: the endpoint's current one, or both during a rotation.
	secrets          []string
	refusalsExpected bool
	seen             map[string]int // webhook-id -> processed requests (more than 1: duplicates it dropped)
	calls            int
	perID            map[string]int // webhook-id -> requests, verified or not
	bad              int
	bodies           map[string][]byte
	sigs             []string
	first            map[string]time.Time // webhook-id -> wall time it was first processed
	// respond may fail a verified request on purpose (true: answered, not processed).
	// n counts every request, call the requests of this webhook-id.
	respond func(n, call int, w http.ResponseWriter, r *http.Request) bool
	// answer may answer a processed request itself (true) instead of 204.
	answer  func(call int, w http.ResponseWriter, r *http.Request) bool
	hanging int // requests now held by hang
}

func newReceiver(t testing.TB, c *testclock.Clock) *receiver {
	rc := &receiver{now: c.Now, done: make(chan struct{}), seen: map[string]int{}, perID: map[string]int{},
		bodies: map[string][]byte{}, first: map[string]time.Time{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.bad > 0 && !rc.refusalsExpected {
			t.Errorf("receiver: %d requests failed signature or timestamp verification", rc.bad)
		}
	})
	t.Cleanup(rc.srv.Close)
	t.Cleanup(func() { close(rc.done) }) // runs first: Close waits for hanging handlers
	return rc
}

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets = s
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.calls++
	rc.perID[id]++
	n, call, respond, answer, secrets := rc.calls, rc.perID[id], rc.respond, rc.answer, rc.secrets
	rc.mu.Unlock()
	if err := verifyWebhook(secrets, rc.now(), r.Header, body); err != nil {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if respond != nil && respond(n, call, w, r) {
		return
	}
	rc.mu.Lock()
	rc.seen[id]++
	if rc.seen[id] == 1 {
		rc.bodies[id] = body
		rc.first[id] = arrived
	}
	rc.sigs = append(rc.sigs, r.Header.Get("webhook-signature"))
	rc.mu.Unlock()
	if answer != nil && answer(call, w, r) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// hang holds a request until the sender gives up on it (or the test ends).
func (rc *receiver) hang(r *http.Request) {
	rc.mu.Lock()
	rc.hanging++
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.hanging--
		rc.mu.Unlock()
	}()
	select {
	case <-r.Context().Done():
	case <-rc.done:
	}
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

// count returns the number of requests and of requests that failed verification.
func (rc *receiver) count() (calls, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, rc.bad
}

// retryUntil keeps making waiting jobs runnable until cond holds (a job still running
// when retryNow looks is picked up on the next round).
func (e *env) retryUntil(t testing.TB, cond func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		if cond() {
			return true
		}
		e.retryNow(t)
		return cond()
	}, 20*time.Second, 50*time.Millisecond)
}

// send hands one order event to the service, as the dispatcher does, and returns the
// number of deliveries it made.
func (e *env) send(t testing.TB, eventID, typ string) int {
	t.Helper()
	n, err := e.svc.HandleOrderEvent(context.Background(), e.orderEvent(eventID, typ))
	require.NoError(t, err)
	return n
}

// deliveryID returns the id of the event's delivery to the endpoint.
func (e *env) deliveryID(t testing.TB, eventID, endpointID string) string {
	t.Helper()
	var id string
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT id FROM webhook_deliveries WHERE event_id = $1 AND endpoint_id = $2`, eventID, endpointID).Scan(&id))
	return id
}

// detail returns a delivery with its attempt log, as the delivery log API shows it.
func (e *env) detail(t testing.TB, deliveryID string) webhook.DeliveryDetail {
	t.Helper()
	d, err := e.svc.DeliveryWithAttempts(context.Background(), e.tenant.Owner, deliveryID)
	require.NoError(t, err)
	return d
}

// job is the state of a delivery's newest River job.
type job struct {
	State       string
	ScheduledAt time.Time
}

func (e *env) job(t testing.TB, deliveryID string) job {
	t.Helper()
	var j job
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT state, scheduled_at FROM river_job
WHERE args->>'delivery_id' = $1 ORDER BY id DESC LIMIT 1`, deliveryID).Scan(&j.State, &j.ScheduledAt))
	return j
}

// waitJob waits until the delivery's job is in one of states (River records a job's
// outcome just after the worker has written the attempt).
func (e *env) waitJob(t testing.TB, deliveryID string, states ...string) job {
	t.Helper()
	var j job
	require.Eventually(t, func() bool {
		j = e.job(t, deliveryID)
		return slices.Contains(states, j.State)
	}, 15*time.Second, 10*time.Millisecond, "delivery %s: job never reached %v", deliveryID, states)
	return j
}

// notifications returns the kinds of the webhook notifications of an endpoint.
func (e *env) notifications(t testing.TB, endpointID string) []string {
	t.Helper()
	rows, _ := e.pool.Query(context.Background(), `SELECT kind FROM webhook_notifications WHERE endpoint_id = $1 ORDER BY id`, endpointID)
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return kinds
}
