package edgesync_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/partner"
	"github.com/steller/platform/control-plane/partner/partnertest"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	edgeclient "github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/policies"
)

const token = "edge-token-for-tests"

// harness is a control plane (key and partner services, edge sync server on real HTTP
// over a real database) and, once connect is called, an edge syncing from it.
type harness struct {
	pool     *pgxpool.Pool
	keys     *apikey.Service
	partners *partner.Service
	server   *edgesync.Server
	http     *httptest.Server
	addr     string
	client   *edgeclient.Client
}

func newHarness(t testing.TB, run bool) *harness {
	t.Helper()
	pool := partnertest.DB(t)
	log := slog.New(slog.DiscardHandler)
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: log})
	require.NoError(t, err)
	partners, err := partner.New(partner.Config{Pool: pool, Logger: log})
	require.NoError(t, err)
	server, err := edgesync.New(edgesync.Config{Pool: pool, Tokens: []string{"old-token", token}, Logger: log, PollEvery: 200 * time.Millisecond})
	require.NoError(t, err)
	h := &harness{pool: pool, keys: keys, partners: partners, server: server}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = server.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		require.Eventually(t, server.Listening, 5*time.Second, 5*time.Millisecond, "LISTEN connection up")
	}
	h.start(t, "127.0.0.1:0")
	return h
}

// start serves the edge sync handler on addr (":0" for any port).
func (h *harness) start(t testing.TB, addr string) {
	t.Helper()
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "listen on %s", addr)
	mux := http.NewServeMux()
	mux.Handle(edgesync.MountPath, h.server.Handler())
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = ln
	srv.Start()
	h.http, h.addr = srv, ln.Addr().String()
	t.Cleanup(h.stop)
}

// stop takes the control plane's HTTP side down, cutting open long-polls.
func (h *harness) stop() {
	h.http.CloseClientConnections()
	h.http.Close()
}

// connect starts an edge client against the server and waits for its first table.
func (h *harness) connect(t testing.TB, wait time.Duration) *edgeclient.Client {
	t.Helper()
	c, err := edgeclient.NewClient(edgeclient.ClientConfig{
		BaseURL: "http://" + h.addr, Token: token, Logger: slog.New(slog.DiscardHandler),
		Wait: wait, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, c.Ready, 5*time.Second, 2*time.Millisecond, "edge has a table")
	h.client = c
	return c
}

// until polls the edge's table every 200µs until ok holds for the record of secret, and
// returns how long that took; it fails the test after limit.
func (h *harness) until(t testing.TB, secret string, limit time.Duration, ok func(*edgeclient.Record, bool) bool) time.Duration {
	t.Helper()
	hash := keyformat.HashOf(secret)
	start := time.Now()
	for {
		r, found := h.client.Lookup(hash)
		if ok(r, found) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("edge did not reach the expected state within %s (found=%v, record=%+v)", limit, found, r)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// get calls an edge sync endpoint with token and returns the status and body.
func (h *harness) get(t testing.TB, path, tok string) (int, []byte) {
	t.Helper()
	status, body, err := h.fetch(path, tok)
	require.NoError(t, err)
	return status, body
}

// fetch is get for goroutines other than the test's (it reports instead of failing).
func (h *harness) fetch(path, tok string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+h.addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func decodeJSON[T any](t testing.TB, raw []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(raw, &v), string(raw))
	return v
}

// edgeCore is the edge's decision core over the client's table, with a settable clock.
type edgeCore struct {
	core *edge.Core
	now  atomic.Pointer[time.Time]
}

func newEdgeCore(t testing.TB, keys edge.KeyLookup) *edgeCore {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	engine, err := policies.New(policies.Config{Logger: log})
	require.NoError(t, err)
	ec := &edgeCore{}
	now := time.Now()
	ec.now.Store(&now)
	ec.core, err = edge.New(edge.Config{
		Keys: keys, Authorizer: engine, Logger: log,
		SandboxUpstream: "http://127.0.0.1:1", LiveUpstream: "http://127.0.0.1:2",
		Clock: func() time.Time { return *ec.now.Load() }, Signer: edgetest.Signer(),
	})
	require.NoError(t, err)
	return ec
}

func (ec *edgeCore) setClock(t time.Time) { ec.now.Store(&t) }

// decide asks the core about GET /v1/catalog with secret from addr; "" means allowed.
func (ec *edgeCore) decide(secret, addr string) string {
	out := ec.core.Decide(context.Background(), &edge.Request{
		Method: http.MethodGet, Path: "/v1/catalog", Authorization: "Bearer " + secret,
		ClientAddr: netip.MustParseAddr(addr), RequestID: "req_test",
	})
	if out.Allowed {
		return ""
	}
	return out.Code
}
