package kongstandin

import (
	"maps"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ScriptedRequest is one client request as Kong would present it to a plugin. It answers
// the plugin's PDK calls and keeps what the plugin changed, so run the phases of one
// request (access, then log) with the same *ScriptedRequest: the log phase then sees the
// ctx.shared values, the rewritten request headers and the exit of the access phase, as it
// does in Kong. A ScriptedRequest must not run two phases at once.
type ScriptedRequest struct {
	// Method is the HTTP method (default GET).
	Method string
	// Scheme is the client's scheme (default "http").
	Scheme string
	// Host is the requested host (default: the Host header, else "localhost").
	Host string
	// Port is Kong's listening port the request arrived on (default 8000).
	Port int
	// Path is the request path without the query string (default "/").
	Path string
	// RawQuery is the query string without "?".
	RawQuery string
	// Headers are the client's request headers.
	Headers http.Header
	// Body is the client's request body.
	Body []byte
	// ClientIP is the address of the peer connected to Kong (kong.client.get_ip).
	ClientIP string
	// ClientPort is the peer's port (default 40000).
	ClientPort int
	// ForwardedIP is the client address Kong resolved with trusted_ips and real_ip_header
	// (kong.client.get_forwarded_ip, and client_ip in kong.log.serialize); default ClientIP.
	ForwardedIP string
	// TrustedIPs answer kong.ip.is_trusted.
	TrustedIPs []netip.Prefix
	// RequestID is Kong's request id (request.id in kong.log.serialize).
	RequestID string
	// StartedAt is when Kong received the request (kong.nginx.req_start_time); default now.
	StartedAt time.Time
	// Route is the matched route (kong.router.get_route); nil answers an empty route.
	Route *Route
	// Service is the matched service (kong.router.get_service); nil answers an empty service.
	Service *Service
	// NodeID answers kong.node.get_id.
	NodeID string
	// Vars answer kong.nginx.get_var.
	Vars map[string]string
	// Shared are kong.ctx.shared values set by plugins that ran before this one.
	Shared map[string]any
	// Response is what the upstream answered, seen by the log phase (and header_filter).
	Response Response
	// Latencies are the latencies Kong measured, reported by kong.log.serialize.
	Latencies Latencies

	once  sync.Once
	mu    sync.Mutex
	state *requestState
}

// Response is the upstream response a log phase sees.
type Response struct {
	// Status is the response status (default 200; the exit status if the request exited).
	Status int
	// Headers are the response headers.
	Headers http.Header
	// Size is the number of bytes sent to the client.
	Size int64
}

// Latencies are Kong's latency measurements of a request.
type Latencies struct {
	// Kong is the time spent in Kong's own processing (plugins included).
	Kong time.Duration
	// Proxy is the time the upstream took to answer.
	Proxy time.Duration
	// Request is the total time from the first byte read to the last byte sent.
	Request time.Duration
	// Receive is the time spent receiving the upstream response.
	Receive time.Duration
}

// Route is the route entity kong.router.get_route answers.
type Route struct {
	// ID is the route's id.
	ID string
	// Name is the route's name.
	Name string
	// Paths are the route's path matchers.
	Paths []string
	// Methods are the route's method matchers.
	Methods []string
	// ServiceID is the id of the service the route belongs to.
	ServiceID string
}

// Service is the service entity kong.router.get_service answers.
type Service struct {
	// ID is the service's id.
	ID string
	// Name is the service's name.
	Name string
	// Protocol is the service's protocol (http, https).
	Protocol string
	// Host is the service's host.
	Host string
	// Port is the service's port.
	Port int
	// Path is the service's path prefix.
	Path string
}

// Call is one PDK call a plugin made during a phase.
type Call struct {
	// Method is the PDK method, for example "kong.request.get_header".
	Method string
	// Args are the decoded arguments, in order (nil for none).
	Args []any
}

// Exit is the response a plugin produced with kong.response.exit.
type Exit struct {
	// Status is the response status.
	Status int
	// Body is the response body.
	Body []byte
	// Headers are the response headers the plugin set.
	Headers http.Header
}

// Target is the host and port a plugin chose with kong.service.set_target.
type Target struct {
	// Host is the upstream host.
	Host string
	// Port is the upstream port.
	Port int
}

// LogEntry is one kong.log.<level> call.
type LogEntry struct {
	// Level is the log level: alert, crit, err, warn, notice, info or debug.
	Level string
	// Args are the logged values.
	Args []any
}

// PhaseResult is everything a plugin did in one phase of one request.
type PhaseResult struct {
	// Phase is the phase that ran.
	Phase string
	// InstanceID is the plugin instance that ran it.
	InstanceID InstanceID
	// Calls are the PDK calls in the order the plugin made them.
	Calls []Call
	// CallCount is len(Calls): the PDK round trips of the phase.
	CallCount int
	// Exit is set when the plugin ended the request with kong.response.exit.
	Exit *Exit
	// UpstreamHeaders are the headers set or added on the request to the upstream.
	UpstreamHeaders http.Header
	// ClearedHeaders are the upstream request headers the plugin cleared, canonicalised.
	ClearedHeaders []string
	// Upstream is the upstream entity chosen with kong.service.set_upstream.
	Upstream string
	// Target is the host and port chosen with kong.service.set_target.
	Target *Target
	// UpstreamScheme, UpstreamPath, UpstreamQuery and UpstreamMethod are set by
	// kong.service.request.set_scheme, set_path, set_raw_query/set_query and set_method.
	UpstreamScheme, UpstreamPath, UpstreamQuery, UpstreamMethod string
	// UpstreamBody is set by kong.service.request.set_raw_body.
	UpstreamBody []byte
	// ResponseStatus and ResponseHeaders are set by kong.response.set_status and the
	// kong.response header setters.
	ResponseStatus  int
	ResponseHeaders http.Header
	// Shared is kong.ctx.shared after the phase.
	Shared map[string]any
	// Logs are the plugin's kong.log.<level> calls.
	Logs []LogEntry
	// Duration is the wall time of the phase, RPC included.
	Duration time.Duration
}

// Count returns how many calls of the method the plugin made.
func (r *PhaseResult) Count(method string) int {
	n := 0
	for _, c := range r.Calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// requestState is what a request carries from one phase to the next.
type requestState struct {
	headers http.Header // request headers, as rewritten by kong.service.request.*
	shared  map[string]any
	ngxCtx  map[string]any
	exit    *Exit
}

func (r *ScriptedRequest) init() {
	r.once.Do(func() {
		st := &requestState{
			headers: r.Headers.Clone(),
			shared:  maps.Clone(r.Shared),
			ngxCtx:  map[string]any{},
		}
		if st.headers == nil {
			st.headers = http.Header{}
		}
		if st.shared == nil {
			st.shared = map[string]any{}
		}
		if r.Method == "" {
			r.Method = http.MethodGet
		}
		if r.Scheme == "" {
			r.Scheme = "http"
		}
		if r.Host == "" {
			r.Host = st.headers.Get("Host")
			if r.Host == "" {
				r.Host = "localhost"
			}
		}
		if r.Port == 0 {
			r.Port = 8000
		}
		if r.Path == "" {
			r.Path = "/"
		}
		if r.ClientPort == 0 {
			r.ClientPort = 40000
		}
		if r.ForwardedIP == "" {
			r.ForwardedIP = r.ClientIP
		}
		if r.StartedAt.IsZero() {
			r.StartedAt = time.Now()
		}
		r.state = st
	})
}

// pathWithQuery is the request URI as the client sent it.
func (r *ScriptedRequest) pathWithQuery() string {
	if r.RawQuery == "" {
		return r.Path
	}
	return r.Path + "?" + r.RawQuery
}

// headerKey turns a PDK header name into Go's canonical form; Kong matches names case
// insensitively and lets "_" stand for "-".
func headerKey(name string) string {
	return http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
}

// lowerHeaders renders headers the way ngx.req.get_headers does: lower-case names, a
// string for one value and a list for several.
func lowerHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		switch len(vs) {
		case 0:
		case 1:
			out[strings.ToLower(k)] = vs[0]
		default:
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			out[strings.ToLower(k)] = list
		}
	}
	return out
}
