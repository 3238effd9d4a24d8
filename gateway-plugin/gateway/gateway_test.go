package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/gateway-plugin/gateway"
	"github.com/steller/platform/policies"
)

// seen is what a test upstream reports back about the request it received.
type seen struct {
	Upstream string              `json:"upstream"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    string              `json:"query"`
	Body     string              `json:"body"`
	Header   map[string][]string `json:"header"`
	// Verified is the edge signature's verification result: "ok" or the error.
	Verified string `json:"verified"`
}

// newUpstream starts an upstream that reports what it received, including whether the edge
// signature verifies with the fixture's secret at the fixture's time.
func newUpstream(t testing.TB, name string) *httptest.Server {
	verifier := edgetest.Verifier(edgetest.FixedNow)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified := "ok"
		if _, err := verifier.VerifyRequest(r); err != nil {
			verified = err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{Upstream: name, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Header: r.Header, Verified: verified})
	}))
	t.Cleanup(srv.Close)
	return srv
}

type env struct {
	fx      *edgetest.Fixture
	gw      *httptest.Server
	events  *requestlog.Memory
	sandbox *httptest.Server
	live    *httptest.Server
}

// setup starts sandbox and live upstreams and a gateway in front of them that trusts the
// loopback address as a proxy, so tests can present each case's client address in
// X-Forwarded-For the way a load balancer would.
func setup(t testing.TB, trusted []string) env {
	t.Helper()
	fx := edgetest.New(edgetest.FixedNow())
	sandbox, live := newUpstream(t, "sandbox"), newUpstream(t, "live")
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	core, err := edge.New(edge.Config{
		Keys: fx.Table, Authorizer: engine, SandboxUpstream: sandbox.URL, LiveUpstream: live.URL,
		Clock: fx.Clock(), Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer(),
	})
	require.NoError(t, err)
	events := &requestlog.Memory{}
	g, err := gateway.New(gateway.Config{Core: core, Emitter: events, Logger: slog.New(slog.DiscardHandler), TrustedProxies: trusted})
	require.NoError(t, err)
	gw := httptest.NewServer(g)
	t.Cleanup(gw.Close)
	return env{fx: fx, gw: gw, events: events, sandbox: sandbox, live: live}
}

func newRequest(t *testing.T, base string, c edgetest.Case) *http.Request {
	t.Helper()
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequest(c.Method, base+c.Path, body)
	require.NoError(t, err)
	if c.Authorization != "" {
		req.Header.Set("Authorization", c.Authorization)
	}
	if c.APIKey != "" {
		req.Header.Set("X-Api-Key", c.APIKey)
	}
	return req
}

func TestDecisionTableOverHTTP(t *testing.T) {
	t.Parallel()
	e := setup(t, []string{"127.0.0.1/32", "::1"})
	for _, c := range e.fx.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			req := newRequest(t, e.gw.URL, c)
			// The loopback client is a trusted proxy that saw c.ClientIP; a spoofing client
			// put its own claim in front.
			xff := c.ClientIP.String()
			if c.SpoofedForwardedFor != "" {
				xff = c.SpoofedForwardedFor + ", " + xff
			}
			req.Header.Set("X-Forwarded-For", xff)
			req.Header.Set("X-Steller-Partner-Id", "ptr_impersonated")
			if c.ClientRequestID != "" {
				req.Header.Set("X-Request-Id", c.ClientRequestID)
			}
			req.Header.Set("X-Client-Request-Id", "cli-impersonated")
			req.Header.Set("X-Steller-Signature", "t=1,v1=forged")

			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, c.Want.Status, resp.StatusCode, string(raw))
			// The edge's own id, whatever the client sent.
			rid := resp.Header.Get("X-Request-Id")
			assert.Regexp(t, `^req_[0-9a-f]{32}$`, rid)

			ev, ok := e.events.Find(rid)
			require.True(t, ok, "one event per request")
			assert.Equal(t, c.Want.ClientRequestID, ev.ClientRequestID)
			assert.Equal(t, c.Want.Status, ev.Status)
			assert.Equal(t, c.ClientIP.String(), ev.ClientIP)
			assert.Equal(t, int64(len(raw)), ev.ResponseBytes)
			assert.Equal(t, c.Want.Code, ev.DenialCode)
			if c.Want.KeyName != "" {
				assert.Equal(t, edgetest.KeyID(c.Want.KeyName), ev.KeyID)
			}

			if c.Want.Code != "" {
				assert.Equal(t, problem.ContentType, resp.Header.Get("Content-Type"))
				var p problem.Document
				require.NoError(t, json.Unmarshal(raw, &p))
				assert.Equal(t, c.Want.Code, p.Code)
				assert.Equal(t, c.Want.Status, p.Status)
				assert.Equal(t, rid, p.RequestID)
				assert.Equal(t, "deny", ev.Decision)
				if c.Want.Status == http.StatusUnauthorized {
					assert.Equal(t, edge.WWWAuthenticate, resp.Header.Get("WWW-Authenticate"))
				}
				return
			}
			var got seen
			require.NoError(t, json.Unmarshal(raw, &got))
			assert.Equal(t, string(c.Want.Upstream), got.Upstream)
			assert.Equal(t, c.Path, got.Path)
			assert.Equal(t, c.Body, got.Body)
			h := http.Header(got.Header)
			assert.Empty(t, h.Values("Authorization"), "key stripped")
			assert.Empty(t, h.Values("X-Api-Key"), "key stripped")
			assert.Equal(t, []string{rid}, h.Values("X-Request-Id"))
			assert.Equal(t, c.Want.ClientRequestID, h.Get("X-Client-Request-Id"), "the client's valid id only, never a client-sent X-Client-Request-Id")
			assert.Equal(t, []string{c.Want.PartnerID}, h.Values("X-Steller-Partner-Id"))
			assert.Equal(t, edgetest.WorkspaceID, h.Get("X-Steller-Workspace-Id"))
			assert.Equal(t, string(c.Want.Environment), h.Get("X-Steller-Environment"))
			assert.Equal(t, edgetest.KeyID(c.Want.KeyName), h.Get("X-Steller-Key-Id"))
			assert.Equal(t, c.ClientIP.String(), h.Get("X-Forwarded-For"))
			assert.Len(t, h.Values("X-Steller-Signature"), 1, "the client's signature header is replaced")
			assert.Equal(t, "ok", got.Verified, "the upstream verifies the edge's signature")
			assert.Equal(t, "allow", ev.Decision)
			assert.Positive(t, ev.LatencyUpstreamUs+ev.LatencyTotalUs)
		})
	}
}

func TestUntrustedForwardedForIsIgnored(t *testing.T) {
	t.Parallel()
	e := setup(t, nil) // no trusted proxies: the socket address (127.0.0.1) is the client
	req, err := http.NewRequest("GET", e.gw.URL+"/v1/catalog?page=2", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.fx.Secret(edgetest.KeyIPv4Restricted))
	req.Header.Set("X-Forwarded-For", "192.0.2.10")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// An unrestricted key from the same client goes through with the query intact, and a
	// malformed request id is replaced.
	req.Header.Set("Authorization", "Bearer "+e.fx.Secret(edgetest.KeyTestFull))
	req.Header.Set("X-Request-Id", "bad id with spaces")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got seen
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	assert.Equal(t, "page=2", got.Query)
	assert.Equal(t, "127.0.0.1", http.Header(got.Header).Get("X-Forwarded-For"))
	rid := resp.Header.Get("X-Request-Id")
	assert.True(t, identity.ValidClientRequestID(rid))
	assert.NotEqual(t, "bad id with spaces", rid)
	assert.Equal(t, rid, http.Header(got.Header).Get("X-Request-Id"))
	assert.Equal(t, 2, e.events.Len())
}

func TestStreamsResponses(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "data: second\n\n")
	}))
	t.Cleanup(stream.Close)
	fx := edgetest.New(edgetest.FixedNow())
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	core, err := edge.New(edge.Config{Keys: fx.Table, Authorizer: engine, SandboxUpstream: stream.URL, LiveUpstream: stream.URL, Clock: fx.Clock(), Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer()})
	require.NoError(t, err)
	events := &requestlog.Memory{}
	g, err := gateway.New(gateway.Config{Core: core, Emitter: events, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	gw := httptest.NewServer(g)
	t.Cleanup(gw.Close)

	req, err := http.NewRequest("GET", gw.URL+"/v1/catalog", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", fx.Secret(edgetest.KeyTestFull))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "data: first\n", line, "first event arrives before the upstream finishes")
	close(release)
	rest, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "\ndata: second\n\n", string(rest))
	require.Eventually(t, func() bool { return events.Len() == 1 }, time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(len("data: first\n\ndata: second\n\n")), events.Events()[0].ResponseBytes)
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	fx := edgetest.New(edgetest.FixedNow())
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	core, err := edge.New(edge.Config{Keys: fx.Table, Authorizer: engine, SandboxUpstream: dead, LiveUpstream: dead, Clock: fx.Clock(), Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer()})
	require.NoError(t, err)
	events := &requestlog.Memory{}
	g, err := gateway.New(gateway.Config{Core: core, Emitter: events, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v1/catalog", nil)
	req.Header.Set("X-Api-Key", fx.Secret(edgetest.KeyTestFull))
	g.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadGateway, rec.Code)
	var p problem.Document
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, "upstream_unavailable", p.Code)
	require.Equal(t, 1, events.Len())
	ev := events.Events()[0]
	assert.Equal(t, 502, ev.Status)
	assert.Equal(t, "allow", ev.Decision)
	assert.Equal(t, "192.0.2.1", ev.ClientIP, "httptest.NewRequest's remote address")
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := gateway.New(gateway.Config{TrustedProxies: []string{"10.0.0.0/8", "nope"}})
	require.Error(t, err)
	for _, want := range []string{"Core", "Emitter", "Logger", `trusted proxy 1 "nope"`} {
		assert.ErrorContains(t, err, want)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	fx := edgetest.New(edgetest.FixedNow())
	arrived := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(slow.Close)
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	core, err := edge.New(edge.Config{Keys: fx.Table, Authorizer: engine, SandboxUpstream: slow.URL, LiveUpstream: slow.URL, Clock: fx.Clock(), Logger: slog.New(slog.DiscardHandler), Signer: edgetest.Signer()})
	require.NoError(t, err)
	g, err := gateway.New(gateway.Config{Core: core, Emitter: requestlog.Nop{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, 5*time.Second) }()

	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/catalog", nil)
		req.Header.Set("X-Api-Key", fx.Secret(edgetest.KeyTestFull))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	<-arrived // the request is in flight at the upstream
	cancel()
	assert.Equal(t, "done", <-answered, "the in-flight request finishes")
	assert.NoError(t, <-served)
}
