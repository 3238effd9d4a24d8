package kongstandin

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// pdkHandler answers one PDK method: fn decodes the argument, acts on the event and
// returns the decoded arguments (for the call record) and the reply (nil: empty frame).
type pdkHandler struct {
	when phaseRule
	fn   func(ev *event, args []byte) ([]any, proto.Message, error)
}

func noArg(when phaseRule, fn func(ev *event) proto.Message) pdkHandler {
	return pdkHandler{when, func(ev *event, _ []byte) ([]any, proto.Message, error) {
		return nil, fn(ev), nil
	}}
}

func strArg(when phaseRule, fn func(ev *event, s string) proto.Message) pdkHandler {
	return pdkHandler{when, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in pb.String
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		return []any{in.V}, fn(ev, in.V), nil
	}}
}

func intArg(when phaseRule, fn func(ev *event, n int) proto.Message) pdkHandler {
	return pdkHandler{when, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in pb.Int
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		return []any{int(in.V)}, fn(ev, int(in.V)), nil
	}}
}

func kvArg(when phaseRule, fn func(ev *event, k string, v any) proto.Message) pdkHandler {
	return pdkHandler{when, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in pb.KV
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		v := in.V.AsInterface()
		return []any{in.K, v}, fn(ev, in.K, v), nil
	}}
}

func structArg(when phaseRule, fn func(ev *event, h http.Header) proto.Message) pdkHandler {
	return pdkHandler{when, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in structpb.Struct
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		return []any{in.AsMap()}, fn(ev, structToHeader(&in)), nil
	}}
}

func logLevel(level string) pdkHandler {
	return pdkHandler{anyPhase, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in structpb.ListValue
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		vals := in.AsSlice()
		ev.res.Logs = append(ev.res.Logs, LogEntry{Level: level, Args: vals})
		ev.srv.log.Debug("plugin log", "level", level, "args", vals)
		return vals, nil, nil
	}}
}

func str(s string) proto.Message { return &pb.String{V: s} }

func num(n int) proto.Message { return &pb.Int{V: int32(n)} }

func value(v any) proto.Message {
	pv, err := structpb.NewValue(v)
	if err != nil {
		return structpb.NewNullValue()
	}
	return pv
}

func headerStruct(h map[string]any) proto.Message {
	s, err := structpb.NewStruct(h)
	if err != nil {
		return &structpb.Struct{}
	}
	return s
}

// queryStruct renders query arguments as Kong's get_query does: a string for one value
// and a list for several, names as sent.
func queryStruct(q url.Values) proto.Message {
	m := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			m[k] = vs[0]
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		m[k] = list
	}
	return headerStruct(m)
}

// structToHeader reads a header (or query) table: string or list values.
func structToHeader(s *structpb.Struct) http.Header {
	h := http.Header{}
	for k, v := range s.AsMap() {
		switch x := v.(type) {
		case []any:
			// An empty list is kept: it means "remove the header" to Kong's setters.
			h[headerKey(k)] = make([]string, 0, len(x))
			for _, e := range x {
				h[headerKey(k)] = append(h[headerKey(k)], fmt.Sprint(e))
			}
		default:
			h[headerKey(k)] = append(h[headerKey(k)], fmt.Sprint(x))
		}
	}
	return h
}

func (ev *event) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(ev.req.TrustedIPs, func(p netip.Prefix) bool { return p.Contains(a.Unmap()) })
}

// forwarded answers a kong.request.get_forwarded_* call: Kong honours the X-Forwarded-*
// header only when the peer is a trusted IP.
func (ev *event) forwarded(header, fallback string) string {
	if v := ev.st.headers.Get(header); v != "" && ev.trusted(ev.req.ClientIP) {
		return v
	}
	return fallback
}

func (ev *event) setUpstreamHeader(name string, v any, add bool) {
	key, val := headerKey(name), fmt.Sprint(v)
	if add {
		ev.res.UpstreamHeaders.Add(key, val)
		ev.st.headers.Add(key, val)
	} else {
		ev.res.UpstreamHeaders.Set(key, val)
		ev.st.headers.Set(key, val)
	}
	ev.res.ClearedHeaders = slices.DeleteFunc(ev.res.ClearedHeaders, func(c string) bool { return c == key })
}

func (ev *event) clearUpstreamHeader(name string) {
	key := headerKey(name)
	ev.res.UpstreamHeaders.Del(key)
	ev.st.headers.Del(key)
	if !slices.Contains(ev.res.ClearedHeaders, key) {
		ev.res.ClearedHeaders = append(ev.res.ClearedHeaders, key)
	}
}

func (ev *event) responseStatus() int {
	if ev.st.exit != nil {
		return ev.st.exit.Status
	}
	if ev.req.Response.Status != 0 {
		return ev.req.Response.Status
	}
	return http.StatusOK
}

func (ev *event) responseHeaders() http.Header {
	if ev.st.exit != nil {
		return ev.st.exit.Headers.Clone()
	}
	h := ev.req.Response.Headers.Clone()
	if h == nil {
		h = http.Header{}
	}
	return h
}

func (ev *event) responseSource() string {
	if ev.st.exit != nil {
		return "exit"
	}
	return "service"
}

func exitHandler() pdkHandler {
	return pdkHandler{requestPhases, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in pb.ExitArgs
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		h := http.Header{}
		if in.Headers != nil {
			h = structToHeader(in.Headers)
		}
		exit := &Exit{Status: int(in.Status), Body: in.Body, Headers: h}
		if ev.phase != "log" {
			ev.res.Exit = exit
			ev.st.exit = exit
		}
		return []any{int(in.Status), string(in.Body), in.Headers.AsMap()}, nil, errExit
	}}
}

func targetHandler() pdkHandler {
	return pdkHandler{requestPhases, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in pb.Target
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		ev.res.Target = &Target{Host: in.Host, Port: int(in.Port)}
		return []any{in.Host, int(in.Port)}, nil, nil
	}}
}

func rawBodyHandler() pdkHandler {
	return pdkHandler{requestPhases, func(ev *event, args []byte) ([]any, proto.Message, error) {
		var in pb.ByteString
		if err := proto.Unmarshal(args, &in); err != nil {
			return nil, nil, err
		}
		ev.res.UpstreamBody = in.V
		return []any{string(in.V)}, nil, nil
	}}
}

// pdkMethods is the fixed table of PDK methods the stand-in answers; see the package doc.
var pdkMethods = map[string]pdkHandler{
	"kong.client.get_ip":             noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.ClientIP) }),
	"kong.client.get_forwarded_ip":   noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.ForwardedIP) }),
	"kong.client.get_port":           noArg(requestPhases, func(ev *event) proto.Message { return num(ev.req.ClientPort) }),
	"kong.client.get_forwarded_port": noArg(requestPhases, func(ev *event) proto.Message { return num(ev.req.ClientPort) }),
	"kong.client.get_protocol": {requestPhases, func(ev *event, _ []byte) ([]any, proto.Message, error) {
		return nil, str(ev.req.Scheme), nil
	}},

	"kong.ctx.shared.get": strArg(anyPhase, func(ev *event, k string) proto.Message { return value(ev.st.shared[k]) }),
	"kong.ctx.shared.set": kvArg(anyPhase, func(ev *event, k string, v any) proto.Message {
		ev.st.shared[k] = v
		return nil
	}),
	"kong.ip.is_trusted": strArg(anyPhase, func(ev *event, a string) proto.Message { return &pb.Bool{V: ev.trusted(a)} }),

	"kong.log.alert":  logLevel("alert"),
	"kong.log.crit":   logLevel("crit"),
	"kong.log.err":    logLevel("err"),
	"kong.log.warn":   logLevel("warn"),
	"kong.log.notice": logLevel("notice"),
	"kong.log.info":   logLevel("info"),
	"kong.log.debug":  logLevel("debug"),
	"kong.log.serialize": {logPhase, func(ev *event, _ []byte) ([]any, proto.Message, error) {
		doc, err := ev.serialize()
		return nil, str(doc), err
	}},

	"kong.nginx.get_var": strArg(requestPhases, func(ev *event, k string) proto.Message { return str(ev.req.Vars[k]) }),
	"kong.nginx.get_ctx": strArg(anyPhase, func(ev *event, k string) proto.Message { return value(ev.st.ngxCtx[k]) }),
	"kong.nginx.set_ctx": kvArg(anyPhase, func(ev *event, k string, v any) proto.Message {
		ev.st.ngxCtx[k] = v
		return nil
	}),
	"kong.nginx.req_start_time": noArg(anyPhase, func(ev *event) proto.Message {
		return &pb.Number{V: float64(ev.req.StartedAt.UnixMilli()) / 1000}
	}),
	"kong.nginx.get_subsystem": noArg(anyPhase, func(*event) proto.Message { return str("http") }),
	"kong.node.get_id":         noArg(anyPhase, func(ev *event) proto.Message { return str(ev.req.NodeID) }),

	"kong.request.get_scheme":           noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.Scheme) }),
	"kong.request.get_host":             noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.Host) }),
	"kong.request.get_port":             noArg(requestPhases, func(ev *event) proto.Message { return num(ev.req.Port) }),
	"kong.request.get_forwarded_scheme": noArg(requestPhases, func(ev *event) proto.Message { return str(ev.forwarded("X-Forwarded-Proto", ev.req.Scheme)) }),
	"kong.request.get_forwarded_host":   noArg(requestPhases, func(ev *event) proto.Message { return str(ev.forwarded("X-Forwarded-Host", ev.req.Host)) }),
	"kong.request.get_forwarded_port": noArg(requestPhases, func(ev *event) proto.Message {
		p, err := strconv.Atoi(ev.forwarded("X-Forwarded-Port", strconv.Itoa(ev.req.Port)))
		if err != nil {
			p = ev.req.Port
		}
		return num(p)
	}),
	"kong.request.get_http_version":    noArg(requestPhases, func(*event) proto.Message { return &pb.Number{V: 1.1} }),
	"kong.request.get_method":          noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.Method) }),
	"kong.request.get_path":            noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.Path) }),
	"kong.request.get_path_with_query": noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.pathWithQuery()) }),
	"kong.request.get_raw_query":       noArg(requestPhases, func(ev *event) proto.Message { return str(ev.req.RawQuery) }),
	"kong.request.get_query_arg": strArg(requestPhases, func(ev *event, k string) proto.Message {
		q, _ := url.ParseQuery(ev.req.RawQuery)
		return str(q.Get(k))
	}),
	"kong.request.get_query": intArg(requestPhases, func(ev *event, _ int) proto.Message {
		q, _ := url.ParseQuery(ev.req.RawQuery)
		return queryStruct(q)
	}),
	"kong.request.get_header":  strArg(anyPhase, func(ev *event, k string) proto.Message { return str(ev.st.headers.Get(headerKey(k))) }),
	"kong.request.get_headers": intArg(anyPhase, func(ev *event, _ int) proto.Message { return headerStruct(lowerHeaders(ev.st.headers)) }),
	"kong.request.get_raw_body": noArg(requestPhases, func(ev *event) proto.Message {
		return &pb.RawBodyResult{Kind: &pb.RawBodyResult_Content{Content: ev.req.Body}}
	}),

	"kong.response.get_status": noArg(responsePhases, func(ev *event) proto.Message { return num(ev.responseStatus()) }),
	"kong.response.get_header": strArg(responsePhases, func(ev *event, k string) proto.Message {
		return str(ev.responseHeaders().Get(headerKey(k)))
	}),
	"kong.response.get_headers": intArg(responsePhases, func(ev *event, _ int) proto.Message {
		return headerStruct(lowerHeaders(ev.responseHeaders()))
	}),
	"kong.response.get_source": noArg(responsePhases, func(ev *event) proto.Message { return str(ev.responseSource()) }),
	"kong.response.set_status": intArg(requestPhases, func(ev *event, n int) proto.Message {
		ev.res.ResponseStatus = n
		return nil
	}),
	"kong.response.set_header": kvArg(requestPhases, func(ev *event, k string, v any) proto.Message {
		ev.res.ResponseHeaders.Set(headerKey(k), fmt.Sprint(v))
		return nil
	}),
	"kong.response.add_header": kvArg(requestPhases, func(ev *event, k string, v any) proto.Message {
		ev.res.ResponseHeaders.Add(headerKey(k), fmt.Sprint(v))
		return nil
	}),
	"kong.response.clear_header": strArg(requestPhases, func(ev *event, k string) proto.Message {
		ev.res.ResponseHeaders.Del(headerKey(k))
		return nil
	}),
	"kong.response.set_headers": structArg(requestPhases, func(ev *event, h http.Header) proto.Message {
		for k, vs := range h {
			ev.res.ResponseHeaders[k] = vs
		}
		return nil
	}),
	"kong.response.exit": exitHandler(),

	"kong.router.get_route": noArg(requestPhases, func(ev *event) proto.Message {
		r := ev.req.Route
		if r == nil {
			return &pb.Route{}
		}
		return &pb.Route{Id: r.ID, Name: r.Name, Paths: r.Paths, Methods: r.Methods, Service: &pb.ServiceKey{Id: r.ServiceID}}
	}),
	"kong.router.get_service": noArg(requestPhases, func(ev *event) proto.Message {
		s := ev.req.Service
		if s == nil {
			return &pb.Service{}
		}
		return &pb.Service{Id: s.ID, Name: s.Name, Protocol: s.Protocol, Host: s.Host, Port: int32(s.Port), Path: s.Path}
	}),

	"kong.service.set_upstream": strArg(requestPhases, func(ev *event, host string) proto.Message {
		ev.res.Upstream = host
		return &pb.Bool{V: true}
	}),
	"kong.service.set_target": targetHandler(),

	"kong.service.request.set_scheme": strArg(requestPhases, func(ev *event, v string) proto.Message {
		ev.res.UpstreamScheme = v
		return nil
	}),
	"kong.service.request.set_path": strArg(requestPhases, func(ev *event, v string) proto.Message {
		ev.res.UpstreamPath = v
		return nil
	}),
	"kong.service.request.set_raw_query": strArg(requestPhases, func(ev *event, v string) proto.Message {
		ev.res.UpstreamQuery = v
		return nil
	}),
	"kong.service.request.set_method": strArg(requestPhases, func(ev *event, v string) proto.Message {
		ev.res.UpstreamMethod = v
		return nil
	}),
	"kong.service.request.set_query": structArg(requestPhases, func(ev *event, h http.Header) proto.Message {
		ev.res.UpstreamQuery = url.Values(h).Encode()
		return nil
	}),
	"kong.service.request.set_header": kvArg(requestPhases, func(ev *event, k string, v any) proto.Message {
		ev.setUpstreamHeader(k, v, false)
		return nil
	}),
	"kong.service.request.add_header": kvArg(requestPhases, func(ev *event, k string, v any) proto.Message {
		ev.setUpstreamHeader(k, v, true)
		return nil
	}),
	"kong.service.request.clear_header": strArg(requestPhases, func(ev *event, k string) proto.Message {
		ev.clearUpstreamHeader(k)
		return nil
	}),
	"kong.service.request.set_headers": structArg(requestPhases, func(ev *event, h http.Header) proto.Message {
		for k, vs := range h {
			// ngx.req.set_header with an empty table removes the header, and Kong's
			// set_headers passes each value to it.
			if len(vs) == 0 {
				ev.clearUpstreamHeader(k)
				continue
			}
			ev.setUpstreamHeader(k, vs[0], false)
			for _, v := range vs[1:] {
				ev.setUpstreamHeader(k, v, true)
			}
		}
		return nil
	}),
	"kong.service.request.set_raw_body": rawBodyHandler(),
}
