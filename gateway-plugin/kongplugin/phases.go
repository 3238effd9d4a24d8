package kongplugin

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"

	"github.com/Kong/go-pdk"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/gateway-plugin/edge"
)

// Access decides the request. Allowed: route to the key's environment and hand the
// upstream the identity instead of the key. Denied: answer with a problem document. A
// panic denies the request with a 500 problem and never reaches the plugin server.
func (c *Config) Access(kong *pdk.PDK) {
	p := c.plugin
	if p == nil {
		p = defaultPlugin()
	}
	exited := false
	requestID := ""
	defer func() {
		if r := recover(); r != nil {
			p.deps.Logger.Error("steller-edge: panic in access; denying", "panic", fmt.Sprint(r), "request_id", requestID, "stack", string(debug.Stack()))
			if !exited {
				if requestID == "" {
					requestID = edge.NewRequestID()
				}
				exit(kong, edge.NewProblem(edge.CodeInternal, "", requestID))
			}
		}
	}()
	start := p.deps.Clock()
	e, err := p.enter(c)
	if err != nil {
		exited = true
		exit(kong, edge.NewProblem(edge.CodeInternal, "The edge is misconfigured.", edge.NewRequestID()))
		return
	}
	defer e.leave()

	// The four reads, each one round trip, each needed: every header at once (key, user
	// agent, request id, content length) rather than one call per header; the client
	// address as Kong resolved it under its trusted_ips/real_ip rules, which clients cannot
	// spoof; and the method and path, which no other call returns.
	headers, err := kong.Request.GetHeaders(-1)
	if err != nil {
		exited = true
		exit(kong, edge.NewProblem(edge.CodeInternal, "", edge.NewRequestID()))
		return
	}
	ip, _ := kong.Client.GetForwardedIp()
	method, _ := kong.Request.GetMethod()
	path, _ := kong.Request.GetPath()

	req := edge.Request{
		Method:         method,
		Path:           path,
		Authorization:  first(headers, c.names.authorization),
		APIKey:         first(headers, c.names.apiKey),
		UserAgent:      first(headers, c.names.userAgent),
		IdempotencyKey: first(headers, c.names.idempotencyKey),
		Received:       start,
	}
	req.ClientAddr, _ = netip.ParseAddr(ip) // invalid stays zero: allowed only by an empty allowlist
	if n, err := strconv.ParseInt(first(headers, c.names.contentLength), 10, 64); err == nil && n > 0 {
		req.RequestBytes = n
	}
	// The edge mints every request id; the client's own is kept beside it as data.
	req.ClientRequestID = edge.ClientRequestID(first(headers, c.names.requestID))
	req.RequestID = edge.NewRequestID()
	for !e.pending.reserve(req.RequestID, start) {
		// 128 random bits do not collide; this only guards the pending table's invariant.
		req.RequestID = edge.NewRequestID()
	}
	requestID = req.RequestID
	allowed := false
	defer func() {
		if !allowed {
			e.pending.release(req.RequestID)
		}
	}()

	out := e.core.Decide(context.Background(), &req)
	if !out.Allowed {
		denial := out.Problem()
		exited = true
		n := exit(kong, denial)
		// Logged here, where the answer is known: the log phase cannot tell it apart.
		e.emitter.Emit(edge.NewEvent(&req, &out, edge.Result{Status: out.Status, ResponseBytes: int64(n), Total: p.deps.Clock().Sub(start)}))
		return
	}

	t := e.sandbox
	if out.Identity.Environment == keyformat.Live {
		t = e.live
	}
	// Needed: the route's service may point at either environment; the key decides.
	if err := kong.Service.SetTarget(t.host, t.port); err != nil {
		exited = true
		exit(kong, edge.NewProblem(edge.CodeInternal, "", req.RequestID))
		return
	}
	upstream := make(map[string][]string, 8)
	for _, h := range out.UpstreamHeaders() {
		if h.Value == "" {
			upstream[h.Name] = []string{} // removes a client-sent X-Client-Request-Id
			continue
		}
		upstream[h.Name] = []string{h.Value}
	}
	// An empty list removes the header (Kong's set_headers calls ngx.req.set_header with an
	// empty table, which clears it), so the key never reaches the upstream.
	upstream[identity.HeaderAuthorization] = []string{}
	upstream[orDefault(c.APIKeyHeader, identity.HeaderAPIKey)] = []string{}
	if c.RequestIDHeader != "" && c.RequestIDHeader != identity.HeaderRequestID {
		upstream[c.RequestIDHeader] = []string{req.RequestID}
	}
	// Needed: one call sets every identity header and removes the key headers together.
	if err := kong.ServiceRequest.SetHeaders(upstream); err != nil {
		exited = true
		exit(kong, edge.NewProblem(edge.CodeInternal, "", req.RequestID))
		return
	}
	e.pending.fill(req.RequestID, &req, &out)
	allowed = true
}

// Log emits the request-log event of an allowed request, from one serialize call: Kong's
// status, sizes and latencies, and the request id that Access set on the request.
func (c *Config) Log(kong *pdk.PDK) {
	p := c.plugin
	if p == nil {
		p = defaultPlugin()
	}
	defer func() {
		if r := recover(); r != nil {
			p.deps.Logger.Error("steller-edge: panic in log", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	e, err := p.enter(c)
	if err != nil {
		return
	}
	defer e.leave()
	// Needed: the one call that returns status, response size and latencies together.
	raw, err := kong.Log.Serialize()
	if err != nil {
		p.deps.Logger.Warn("steller-edge: log serialize failed", "err", err)
		return
	}
	entry, err := parseSerialized(raw)
	if err != nil {
		p.deps.Logger.Warn("steller-edge: cannot read serialized log", "err", err)
		return
	}
	pend, ok := e.pending.take(entry.requestID(c.names.requestID))
	if !ok {
		return // denied (already logged in Access), or not decided by this process
	}
	e.emitter.Emit(edge.NewEvent(&pend.req, &pend.outcome, entry.result()))
}

// exit answers the request with a problem document in one call and returns the body size.
func exit(kong *pdk.PDK, p problem.Document) int {
	body := problem.Marshal(p)
	headers := map[string][]string{
		"Content-Type":           {problem.ContentType},
		"Cache-Control":          {"no-store"},
		identity.HeaderRequestID: {p.RequestID},
	}
	if p.Status == http.StatusUnauthorized {
		headers["WWW-Authenticate"] = []string{edge.WWWAuthenticate}
	}
	// Needed: the denial itself; status, headers and body go in one call.
	kong.Response.Exit(p.Status, body, headers)
	return len(body)
}

func first(h map[string][]string, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
