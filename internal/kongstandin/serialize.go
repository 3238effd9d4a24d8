package kongstandin

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// serialize builds the document kong.log.serialize answers in the log phase, with the
// keys of Kong 3.x's kong/pdk/log.lua serialize(): request, upstream_uri, upstream_status,
// response, latencies, route, service, client_ip, started_at, source, workspace_name.
// As in Kong, Authorization and Proxy-Authorization are REDACTED and client_ip is the
// address after trusted-proxy resolution (ngx.var.remote_addr).
func (ev *event) serialize() (string, error) {
	req := ev.req
	headers := lowerHeaders(ev.st.headers)
	for _, k := range []string{"authorization", "proxy-authorization"} {
		if _, ok := headers[k]; ok {
			headers[k] = "REDACTED"
		}
	}
	query := map[string]any{}
	if q, err := url.ParseQuery(req.RawQuery); err == nil {
		for k, vs := range q {
			if len(vs) == 1 {
				query[k] = vs[0]
			} else {
				query[k] = vs
			}
		}
	}
	uri := req.pathWithQuery()
	status := ev.responseStatus()
	upstreamStatus := ""
	if ev.st.exit == nil {
		upstreamStatus = strconv.Itoa(status)
	}
	doc := map[string]any{
		"request": map[string]any{
			"id":          req.RequestID,
			"uri":         uri,
			"url":         fmt.Sprintf("%s://%s:%d%s", req.Scheme, req.Host, req.Port, uri),
			"querystring": query,
			"method":      req.Method,
			"headers":     headers,
			"size":        requestSize(req, ev.st),
		},
		"upstream_uri":    uri,
		"upstream_status": upstreamStatus,
		"response": map[string]any{
			"status":  status,
			"headers": lowerHeaders(ev.responseHeaders()),
			"size":    req.Response.Size,
		},
		"latencies": map[string]any{
			"kong":    req.Latencies.Kong.Milliseconds(),
			"proxy":   proxyLatency(ev),
			"request": req.Latencies.Request.Milliseconds(),
			"receive": req.Latencies.Receive.Milliseconds(),
		},
		"client_ip":      req.ForwardedIP,
		"started_at":     req.StartedAt.UnixMilli(),
		"source":         ev.responseSource(),
		"workspace_name": "default",
	}
	if r := req.Route; r != nil {
		doc["route"] = map[string]any{"id": r.ID, "name": r.Name, "paths": r.Paths, "methods": r.Methods}
	}
	if s := req.Service; s != nil {
		doc["service"] = map[string]any{"id": s.ID, "name": s.Name, "protocol": s.Protocol, "host": s.Host, "port": s.Port, "path": s.Path}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode serialize document: %w", err)
	}
	return string(out), nil
}

// proxyLatency is -1 when no upstream answered, as Kong reports it.
func proxyLatency(ev *event) int64 {
	if ev.st.exit != nil {
		return -1
	}
	return ev.req.Latencies.Proxy.Milliseconds()
}

// requestSize approximates nginx's $request_length: request line, headers and body.
func requestSize(req *ScriptedRequest, st *requestState) int {
	n := len(req.Method) + 1 + len(req.pathWithQuery()) + len(" HTTP/1.1\r\n")
	for k, vs := range st.headers {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2 + len(req.Body)
}
