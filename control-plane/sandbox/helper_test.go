package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/control-plane/ident"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/sandbox"
	"github.com/steller/platform/internal/testclock"
	"github.com/steller/platform/internal/testenv"
)

// newClock is the vendor's test clock, at a fixed start.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// recorder is a Publisher that keeps what it was given, and fails while failing is set.
type recorder struct {
	mu      sync.Mutex
	events  []orderevent.Event
	failing bool
}

func (r *recorder) Publish(_ context.Context, events ...orderevent.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failing {
		return io.ErrUnexpectedEOF
	}
	r.events = append(r.events, events...)
	return nil
}

func (r *recorder) Events() []orderevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]orderevent.Event(nil), r.events...)
}

// env is one test's database, clock and vendor behind a real HTTP server.
type env struct {
	pool   *pgxpool.Pool
	clock  *testclock.Clock
	pub    *recorder
	vendor *sandbox.Vendor
	srv    *httptest.Server
	// signer signs as the edge does, with edgeSecret.
	signer *edgesign.Signer
}

// edgeSecret is the edge signing secret the tests' vendors verify with.
const edgeSecret = "esig_sandbox-tests-edge-signing-secret-00000"

// newVerifier verifies edge signatures made with secrets at clock's time.
func newVerifier(t *testing.T, clock func() time.Time, secrets ...string) *edgesign.Verifier {
	t.Helper()
	v, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: secrets, Clock: clock})
	require.NoError(t, err)
	return v
}

func newSigner(t *testing.T, secrets ...string) *edgesign.Signer {
	t.Helper()
	s, err := edgesign.NewSigner(secrets)
	require.NoError(t, err)
	return s
}

const (
	delay        = 2 * time.Second
	timeoutDelay = 10 * time.Second
	startBalance = 100_000
)

// setup migrates a fresh database and builds a vendor with a test clock and a recording
// publisher; change adjusts the Config first.
func setup(t *testing.T, change ...func(*sandbox.Config)) *env {
	t.Helper()
	pool := testenv.Postgres(t)
	_, err := migration.Up(context.Background(), pool, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	e := &env{pool: pool, clock: newClock(), pub: &recorder{}, signer: newSigner(t, edgeSecret)}
	cfg := sandbox.Config{
		Pool: pool, Publisher: e.pub, Clock: e.clock.Now, Verifier: newVerifier(t, e.clock.Now, edgeSecret), CompletionDelay: delay, TimeoutDelay: timeoutDelay,
		PollInterval: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, c := range change {
		c(&cfg)
	}
	e.vendor, err = sandbox.New(cfg)
	require.NoError(t, err)
	e.srv = httptest.NewServer(e.vendor.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// run runs the vendor's background work until the test ends or stop is called.
func (e *env) run(t *testing.T, v *sandbox.Vendor) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = v.Run(ctx)
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// partner signs up a partner with a sandbox balance of cents.
func (e *env) partner(t *testing.T, cents int64) string {
	t.Helper()
	id := ident.New("ptr")
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `INSERT INTO partners (id, company) VALUES ($1, 'Test Co')`, id)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `INSERT INTO sandbox_accounts (partner_id, balance_cents) VALUES ($1, $2)`, id, cents)
	require.NoError(t, err)
	return id
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) order(t *testing.T) sandbox.Order {
	t.Helper()
	var o sandbox.Order
	require.NoError(t, json.Unmarshal(r.body, &o), string(r.body))
	return o
}

func (r reply) code(t *testing.T) string {
	t.Helper()
	var p struct {
		Code string `json:"code"`
	}
	require.NoError(t, json.Unmarshal(r.body, &p), string(r.body))
	return p.Code
}

// edgeHeaders returns the headers the edge sets for a test key of partner.
func edgeHeaders(partner string) http.Header {
	h := http.Header{}
	h.Set("X-Request-Id", ident.New("req"))
	h.Set("X-Steller-Partner-Id", partner)
	h.Set("X-Steller-Workspace-Id", "ws_"+partner)
	h.Set("X-Steller-Environment", "test")
	h.Set("X-Steller-Key-Id", "key_"+partner)
	return h
}

// do sends a request as the edge forwards it: h's identity headers signed at the vendor's
// clock (unless h already carries a signature).
func (e *env) do(t *testing.T, method, path string, h http.Header, body any) reply {
	t.Helper()
	if h.Get(identity.HeaderSignature) == "" {
		h = h.Clone()
		signPath, _, _ := strings.Cut(path, "?")
		id := edgesign.FromHeaders(method, signPath, h)
		h.Set(identity.HeaderSignature, e.signer.Sign(&id, e.clock.Now()))
	}
	return e.send(t, method, path, h, body)
}

// send sends a request with exactly the headers h, signed or not.
func (e *env) send(t *testing.T, method, path string, h http.Header, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header, body: raw}
	check(t, method, path, r)
	return r
}

// order places an order for partner with an idempotency key.
func (e *env) order(t *testing.T, partner, key string, body any) reply {
	t.Helper()
	h := edgeHeaders(partner)
	h.Set("Idempotency-Key", key)
	return e.do(t, http.MethodPost, "/v1/orders", h, body)
}

func (e *env) get(t *testing.T, partner, orderID string) reply {
	t.Helper()
	return e.do(t, http.MethodGet, "/v1/orders/"+orderID, edgeHeaders(partner), nil)
}

func (e *env) balance(t *testing.T, partner string) int64 {
	t.Helper()
	r := e.do(t, http.MethodGet, "/v1/balance", edgeHeaders(partner), nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var b struct {
		BalanceCents int64  `json:"balance_cents"`
		Currency     string `json:"currency"`
	}
	require.NoError(t, json.Unmarshal(r.body, &b))
	require.Equal(t, "USD", b.Currency)
	return b.BalanceCents
}

// count returns the number of rows of a table that concern partner.
func (e *env) count(t *testing.T, table, partner string) int {
	t.Helper()
	var n int
	q := map[string]string{
		"orders": `SELECT count(*) FROM sandbox_orders WHERE partner_id = $1`,
		"outbox": `SELECT count(*) FROM sandbox_order_outbox x JOIN sandbox_orders o ON o.id = x.order_id WHERE o.partner_id = $1`,
		"unsent": `SELECT count(*) FROM sandbox_order_outbox x JOIN sandbox_orders o ON o.id = x.order_id WHERE o.partner_id = $1 AND x.sent_at IS NULL`,
		// The live mode's tables.
		"live_orders": `SELECT count(*) FROM live_orders WHERE partner_id = $1`,
		"live_outbox": `SELECT count(*) FROM live_order_outbox x JOIN live_orders o ON o.id = x.order_id WHERE o.partner_id = $1`,
		"accounts":    `SELECT count(*) FROM sandbox_accounts WHERE partner_id = $1`,
	}[table]
	require.NotEmpty(t, q, "no count query for %s", table)
	require.NoError(t, e.pool.QueryRow(context.Background(), q, partner).Scan(&n))
	return n
}

// waitStatus waits until the order reaches status.
func (e *env) waitStatus(t *testing.T, partner, orderID, status string) sandbox.Order {
	t.Helper()
	var o sandbox.Order
	require.Eventually(t, func() bool {
		o = e.get(t, partner, orderID).order(t)
		return o.Status == status
	}, 10*time.Second, 10*time.Millisecond, "order %s never became %s", orderID, status)
	return o
}

func card(amount int64) map[string]any {
	return map[string]any{"product_id": "sbx_open_prepaid", "amount_cents": amount}
}
