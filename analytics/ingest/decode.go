package ingest

import (
	"fmt"
	"time"

	"github.com/valyala/fastjson"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/identity"
)

// Reasons a message is dead-lettered, sent in the HeaderReason header.
const (
	// ReasonInvalidJSON: the value is not a JSON object of the event's shape.
	ReasonInvalidJSON = "invalid_json"
	// ReasonUnsupportedVersion: schema_version is not one this ingest stores.
	ReasonUnsupportedVersion = "unsupported_schema_version"
	// ReasonMissingRequestID: request_id is empty, so the row could not be deduplicated.
	ReasonMissingRequestID = "missing_request_id"
	// ReasonTimestampOutOfRange: timestamp_ms is missing, older than Config.MaxEventAge or
	// further ahead than Config.MaxClockSkew.
	ReasonTimestampOutOfRange = "timestamp_out_of_range"
	// ReasonInvalidField: a number is negative or the status is not an HTTP status.
	ReasonInvalidField = "invalid_field"
)

// rejection says why a message cannot become a row.
type rejection struct {
	reason string
	detail string
}

// validator turns message values into events or rejections. It is not safe for
// concurrent use (the parser is reused).
type validator struct {
	now      func() time.Time
	maxAge   time.Duration
	maxAhead time.Duration
	parser   fastjson.Parser
	// interned holds recent values of the repetitive string fields (partner, key,
	// route, user agent...), so a batch of 50,000 events allocates each once.
	interned map[string]string
}

// maxInterned bounds the intern table; it is emptied when full.
const maxInterned = 100_000

// intern returns b as a string, reusing an earlier identical one.
func (v *validator) intern(b []byte) string {
	if s, ok := v.interned[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if v.interned == nil || len(v.interned) >= maxInterned {
		v.interned = make(map[string]string, 1024)
	}
	s := string(b)
	v.interned[s] = s
	return s
}

// decode parses one message value. The bounds on the timestamp keep a bad clock from
// creating partitions far from the data (and keep one insert within the 100 partitions
// per insert block that current ClickHouse allows).
func (v *validator) decode(value []byte) (requestlog.Event, *rejection) {
	e, err := v.parse(value)
	if err != nil {
		return e, &rejection{ReasonInvalidJSON, err.Error()}
	}
	if e.SchemaVersion != requestlog.SchemaVersion {
		return e, &rejection{ReasonUnsupportedVersion, fmt.Sprintf("schema_version %d, want %d", e.SchemaVersion, requestlog.SchemaVersion)}
	}
	if e.RequestID == "" {
		return e, &rejection{ReasonMissingRequestID, "request_id is empty"}
	}
	now := v.now().UnixMilli()
	if e.TimestampMs <= 0 || e.TimestampMs < now-v.maxAge.Milliseconds() || e.TimestampMs > now+v.maxAhead.Milliseconds() {
		return e, &rejection{ReasonTimestampOutOfRange, fmt.Sprintf("timestamp_ms %d is outside [now-%s, now+%s]", e.TimestampMs, v.maxAge, v.maxAhead)}
	}
	if e.ClientRequestID != "" && !identity.ValidClientRequestID(e.ClientRequestID) {
		// Data, not identity: a producer that did not validate it loses only this field.
		e.ClientRequestID = ""
	}
	if e.IdempotencyKeyHash != "" && !validKeyHash(e.IdempotencyKeyHash) {
		// Data too: a malformed hash links nothing, so only the field is dropped.
		e.IdempotencyKeyHash = ""
	}
	if e.Status < 100 || e.Status > 999 {
		return e, &rejection{ReasonInvalidField, fmt.Sprintf("status %d", e.Status)}
	}
	if e.LatencyTotalUs < 0 || e.LatencyUpstreamUs < 0 || e.LatencyEdgeUs < 0 || e.RequestBytes < 0 || e.ResponseBytes < 0 {
		return e, &rejection{ReasonInvalidField, "negative latency or byte count"}
	}
	return e, nil
}

// parse decodes the event with fastjson rather than encoding/json: the ingest's
// throughput is bound by decoding, and fastjson parses an event several times faster.
// It accepts what encoding/json would for requestlog.Event written by json.Marshal:
// unknown fields are skipped, null leaves a field zero, a value of the wrong type is an
// error. Unlike encoding/json, field names match exactly (not case-insensitively).
func (v *validator) parse(value []byte) (requestlog.Event, error) {
	var e requestlog.Event
	root, err := v.parser.ParseBytes(value)
	if err != nil {
		return e, err
	}
	obj, err := root.Object()
	if err != nil {
		return e, err
	}
	var fieldErr error
	obj.Visit(func(key []byte, val *fastjson.Value) {
		if fieldErr != nil || val.Type() == fastjson.TypeNull {
			return
		}
		if dst := stringField(&e, key); dst != nil {
			b, err := val.StringBytes()
			if err != nil {
				fieldErr = fmt.Errorf("%s: %w", key, err)
				return
			}
			if string(key) == "request_id" || string(key) == "client_request_id" || string(key) == "idempotency_key_hash" {
				*dst = string(b) // (nearly) unique per event: interning would only fill the table
			} else {
				*dst = v.intern(b)
			}
			return
		}
		if dst := intField(&e, key); dst != nil {
			n, err := val.Int64()
			if err != nil {
				fieldErr = fmt.Errorf("%s: %w", key, err)
				return
			}
			*dst = n
			return
		}
		if string(key) == "schema_version" || string(key) == "status" {
			n, err := val.Int()
			if err != nil {
				fieldErr = fmt.Errorf("%s: %w", key, err)
				return
			}
			if string(key) == "status" {
				e.Status = n
			} else {
				e.SchemaVersion = n
			}
		}
	})
	return e, fieldErr
}

func stringField(e *requestlog.Event, key []byte) *string {
	switch string(key) {
	case "request_id":
		return &e.RequestID
	case "client_request_id":
		return &e.ClientRequestID
	case "idempotency_key_hash":
		return &e.IdempotencyKeyHash
	case "partner_id":
		return &e.PartnerID
	case "workspace_id":
		return &e.WorkspaceID
	case "key_id":
		return &e.KeyID
	case "environment":
		return &e.Environment
	case "method":
		return &e.Method
	case "path":
		return &e.Path
	case "route":
		return &e.Route
	case "client_ip":
		return &e.ClientIP
	case "user_agent":
		return &e.UserAgent
	case "decision":
		return &e.Decision
	case "denial_code":
		return &e.DenialCode
	}
	return nil
}

func intField(e *requestlog.Event, key []byte) *int64 {
	switch string(key) {
	case "timestamp_ms":
		return &e.TimestampMs
	case "latency_total_us":
		return &e.LatencyTotalUs
	case "latency_upstream_us":
		return &e.LatencyUpstreamUs
	case "latency_edge_us":
		return &e.LatencyEdgeUs
	case "request_bytes":
		return &e.RequestBytes
	case "response_bytes":
		return &e.ResponseBytes
	}
	return nil
}

// validKeyHash reports whether h has the edge's Idempotency-Key hash form: 16 lower-case
// hex digits (edge.IdempotencyKeyHash).
func validKeyHash(h string) bool {
	if len(h) != 16 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
