// Package requestlog owns the request-log event: the one record the edge produces for every
// partner request, allowed or denied, and the Emitter interface that hands events to the
// pipeline (Kafka topic steller.request-logs.v1, keyed by partner id, then ClickHouse).
//
// Event is versioned: fields are only ever added, and a change that consumers cannot ignore
// bumps SchemaVersion. Latencies are in microseconds (a decision at the edge takes tens of
// microseconds, which milliseconds would round to zero); the timestamp is Unix milliseconds.
package requestlog

// SchemaVersion is the version of Event written by this code.
const SchemaVersion = 1

// Decision values.
const (
	// DecisionAllow means the edge forwarded the request upstream.
	DecisionAllow = "allow"
	// DecisionDeny means the edge answered the request itself with a problem document.
	DecisionDeny = "deny"
)

// Event is one request-log record (schema version 1). Identity fields are empty when the
// request was denied before a key was identified (missing_key, invalid_key).
type Event struct {
	// SchemaVersion is SchemaVersion at the time of writing.
	SchemaVersion int `json:"schema_version"`
	// RequestID is the edge request id (also sent upstream as X-Request-Id); consumers
	// deduplicate on it.
	RequestID string `json:"request_id"`
	// ClientRequestID is the client's own X-Request-Id when it was valid (1 to 128 of
	// [A-Za-z0-9._:-]), else empty. Added to schema version 1 as an optional field (absent
	// means the client sent none); it is data, never identity: consumers must not
	// deduplicate on it.
	ClientRequestID string `json:"client_request_id,omitempty"`
	// IdempotencyKeyHash is the first 16 hex digits (64 bits) of the SHA-256 of the
	// request's Idempotency-Key header when it had one of 1 to 255 bytes, else empty. Added
	// to schema version 1 as an optional field (absent means no key). Two requests of one
	// partner with the same hash carried the same key, so a retry links to its original
	// without the key itself ever being stored; it is data, never identity.
	IdempotencyKeyHash string `json:"idempotency_key_hash,omitempty"`
	// TimestampMs is when the edge received the request, in Unix milliseconds (UTC).
	TimestampMs int64 `json:"timestamp_ms"`
	// PartnerID is the partner that owns the key.
	PartnerID string `json:"partner_id"`
	// WorkspaceID is the key's workspace.
	WorkspaceID string `json:"workspace_id"`
	// KeyID is the key's public id (never the secret, never the hash).
	KeyID string `json:"key_id"`
	// Environment is "test" or "live"; empty when no key was identified.
	Environment string `json:"environment"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// Path is the request path without the query string.
	Path string `json:"path"`
	// Route is the edge route name (for example "orders.create"), or "unknown".
	Route string `json:"route"`
	// Status is the HTTP status returned to the client.
	Status int `json:"status"`
	// LatencyTotalUs is the time from receiving the request to finishing the response, in
	// microseconds.
	LatencyTotalUs int64 `json:"latency_total_us"`
	// LatencyUpstreamUs is the time spent waiting on the upstream, in microseconds (0 when
	// denied).
	LatencyUpstreamUs int64 `json:"latency_upstream_us"`
	// LatencyEdgeUs is the time the edge itself added (total minus upstream), in
	// microseconds.
	LatencyEdgeUs int64 `json:"latency_edge_us"`
	// ClientIP is the client address the edge decided on (after trusted-proxy resolution).
	ClientIP string `json:"client_ip"`
	// UserAgent is the client's User-Agent header.
	UserAgent string `json:"user_agent"`
	// RequestBytes is the size of the request body as received (Content-Length when known).
	RequestBytes int64 `json:"request_bytes"`
	// ResponseBytes is the size of the response body sent to the client.
	ResponseBytes int64 `json:"response_bytes"`
	// Decision is DecisionAllow or DecisionDeny.
	Decision string `json:"decision"`
	// DenialCode is the stable denial code (for example "key_revoked"); empty when allowed.
	DenialCode string `json:"denial_code"`
}

// Emitter hands events to the pipeline. Emit must never block the request path and must be
// safe for concurrent use; an emitter that cannot keep up drops (and counts) rather than
// waits.
type Emitter interface {
	// Emit queues one event.
	Emit(Event)
}

// Nop is an Emitter that discards events.
type Nop struct{}

// Emit discards e.
func (Nop) Emit(Event) {}
