// Package gateway owns the built-in edge gateway: a net/http reverse proxy that runs the
// edge decision core in front of the sandbox and live upstreams, for local runs and tests
// (`steller gateway`). It resolves the client address from trusted proxies, keeps or makes
// the request id, strips the key, sets the identity headers, streams bodies both ways, and
// emits one request-log event per request, allowed or denied.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"time"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/internal/clientip"
)

// Config holds the Gateway's dependencies and settings.
type Config struct {
	// Core decides requests (required).
	Core *edge.Core
	// Emitter receives one request-log event per request (required).
	Emitter requestlog.Emitter
	// Logger receives proxy errors (required).
	Logger *slog.Logger
	// Clock measures latencies and stamps events; time.Now when nil.
	Clock func() time.Time
	// TrustedProxies are addresses or CIDRs of proxies in front of the gateway whose
	// X-Forwarded-For entries are believed. Empty: the socket address is the client.
	TrustedProxies []string
	// Transport reaches the upstreams; nil means a transport with the timeouts below.
	Transport http.RoundTripper
	// DialTimeout bounds connecting to an upstream; zero means 5s.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds waiting for an upstream's response headers; zero means
	// 30s. Bodies are streamed and not bounded.
	ResponseHeaderTimeout time.Duration
}

// Gateway is the built-in edge: an http.Handler.
type Gateway struct {
	core    *edge.Core
	emitter requestlog.Emitter
	log     *slog.Logger
	clock   func() time.Time
	proxies clientip.Resolver
	proxy   *httputil.ReverseProxy
}

// New validates cfg and builds a Gateway.
func New(cfg Config) (*Gateway, error) {
	var errs []error
	if cfg.Core == nil {
		errs = append(errs, errors.New("gateway: Config.Core is required"))
	}
	if cfg.Emitter == nil {
		errs = append(errs, errors.New("gateway: Config.Emitter is required"))
	}
	if cfg.Logger == nil {
		errs = append(errs, errors.New("gateway: Config.Logger is required"))
	}
	proxies, err := clientip.Parse(cfg.TrustedProxies)
	if err != nil {
		errs = append(errs, fmt.Errorf("gateway: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g := &Gateway{core: cfg.Core, emitter: cfg.Emitter, log: cfg.Logger, clock: cfg.Clock, proxies: proxies}
	if g.clock == nil {
		g.clock = time.Now
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport(cfg)
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      &timedTransport{base: transport, clock: g.clock},
		ModifyResponse: modifyResponse,
		ErrorHandler:   g.upstreamError,
		// FlushInterval 0: responses with a Content-Length are buffered per write, and
		// streamed ones (no Content-Length, text/event-stream) are flushed at once.
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return g, nil
}

func newTransport(cfg Config) *http.Transport {
	dial := cfg.DialTimeout
	if dial <= 0 {
		dial = 5 * time.Second
	}
	header := cfg.ResponseHeaderTimeout
	if header <= 0 {
		header = 30 * time.Second
	}
	return &http.Transport{
		Proxy:                 nil, // never route partner traffic through an environment proxy
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: header,
		ExpectContinueTimeout: time.Second,
	}
}

// state is what one request carries from ServeHTTP through the proxy hooks.
type state struct {
	outcome  edge.Outcome
	client   netip.Addr
	upstream time.Duration
}

type stateKey struct{}

// ServeHTTP decides the request and either answers it with a problem document or proxies
// it; either way it emits one request-log event.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.clock()
	st := &state{}
	st.client = g.clientAddr(r)
	req := edge.Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		Authorization: r.Header.Get(identity.HeaderAuthorization),
		APIKey:        r.Header.Get(identity.HeaderAPIKey),
		ClientAddr:    st.client,
		UserAgent:     r.UserAgent(),
		// The edge mints every request id; the client's own is kept beside it as data.
		RequestID:       edge.NewRequestID(),
		ClientRequestID: edge.ClientRequestID(r.Header.Get(identity.HeaderRequestID)),
		IdempotencyKey:  r.Header.Get(identity.HeaderIdempotencyKey),
		RequestBytes:    max(r.ContentLength, 0),
		Received:        start,
	}
	st.outcome = g.core.Decide(r.Context(), &req)
	cw := &countingWriter{ResponseWriter: w}
	if st.outcome.Allowed {
		g.proxy.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	} else {
		writeProblem(cw, st.outcome.Status, st.outcome.Problem())
	}
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	g.emitter.Emit(edge.NewEvent(&req, &st.outcome, edge.Result{
		Status: status, ResponseBytes: cw.bytes, Total: g.clock().Sub(start), Upstream: st.upstream,
	}))
}

func (g *Gateway) clientAddr(r *http.Request) netip.Addr {
	// Not an ip:port (for example a unix socket): no address to allow.
	return g.proxies.FromRemoteAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// rewrite builds the upstream request: the decided upstream, the key removed, the identity
// headers set, and forwarding headers that carry only what the edge resolved.
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(stateKey{}).(*state)
	pr.SetURL(st.outcome.Upstream)
	h := pr.Out.Header
	for _, name := range edge.StrippedHeaders {
		h.Del(name)
	}
	for _, kv := range st.outcome.UpstreamHeaders() {
		if kv.Value == "" {
			h.Del(kv.Name) // no client request id: a client-sent X-Client-Request-Id goes too
			continue
		}
		h.Set(kv.Name, kv.Value)
	}
	h.Del("X-Real-Ip") // a client could send it; upstreams get only X-Forwarded-For from us
	if st.client.IsValid() {
		h.Set("X-Forwarded-For", st.client.String())
	}
	h.Set("X-Forwarded-Host", pr.In.Host)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
}

func modifyResponse(resp *http.Response) error {
	if st, ok := resp.Request.Context().Value(stateKey{}).(*state); ok {
		resp.Header.Set(identity.HeaderRequestID, st.outcome.RequestID)
	}
	return nil
}

// upstreamError answers a failed upstream round trip with a problem document: 504 when the
// upstream timed out, 502 otherwise.
func (g *Gateway) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	st := r.Context().Value(stateKey{}).(*state)
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads an answer. 499 as nginx/Kong log it.
		w.WriteHeader(499)
		return
	}
	code := edge.CodeUpstreamUnavailable
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		code = edge.CodeUpstreamTimeout
	}
	g.log.Warn("gateway: upstream request failed", "request_id", st.outcome.RequestID, "upstream", st.outcome.Upstream.Host, "err", err)
	p := edge.NewProblem(code, "", st.outcome.RequestID)
	writeProblem(w, p.Status, p)
}

func writeProblem(w http.ResponseWriter, status int, p problem.Document) {
	body := problem.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", problem.ContentType)
	h.Set("Cache-Control", "no-store")
	h.Set(identity.HeaderRequestID, p.RequestID)
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", edge.WWWAuthenticate)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// timedTransport records in the request's state how long the upstream took to answer
// (until its response headers arrived).
type timedTransport struct {
	base  http.RoundTripper
	clock func() time.Time
}

func (t *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := t.clock()
	resp, err := t.base.RoundTrip(r)
	if st, ok := r.Context().Value(stateKey{}).(*state); ok {
		st.upstream = t.clock().Sub(start)
	}
	return resp, err
}

// countingWriter records the status and body bytes written. Unwrap lets the proxy reach
// the underlying writer's Flush for streaming.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.bytes += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
