// Package problem owns the one shape of every error document Steller's HTTP services send:
// RFC 9457 problem details with a stable machine-readable code, a type URL naming that code
// in the docs, and the request id. The edge, the sandbox vendor, edge sync, the policy bundle
// server and the control plane's API all write it, so a partner's client parses one shape.
// Codes lists every code; README.md ("Problem codes") and the portal's errors guide
// (/docs/errors) document each.
package problem

import (
	"encoding/json"
	"net/http"

	"github.com/steller/platform/contract/identity"
)

// ContentType is the media type of problem documents (RFC 9457).
const ContentType = "application/problem+json"

// TypeBase prefixes a code to form a problem's type URL: the code's anchor in the portal's
// errors guide (/docs/errors#<code>) on the public site. Every code has its own entry there,
// so the URL a client sees in type explains it.
const TypeBase = "https://steller.dev/docs/errors#"

// FieldError locates one invalid input: a JSON path into the request such as
// "body.email" or "query.limit", what is wrong with it, and the value it had.
type FieldError struct {
	// Location is where the field is, such as "body.amount_cents" or "query.status".
	Location string `json:"location,omitempty" doc:"Where the field is, such as body.amount_cents or query.status."`
	// Message says what is wrong with the field.
	Message string `json:"message,omitempty" doc:"What is wrong with it."`
	// Value is the offending value (never a secret).
	Value any `json:"value,omitempty" doc:"The offending value (never a secret)."`
}

// Document is a problem document with Steller's extension members code and request_id.
type Document struct {
	// Type is a URL naming the code: TypeBase + Code, its entry in the errors guide.
	Type string `json:"type" format:"uri" doc:"A URL naming the code: its entry in the errors guide, such as https://steller.dev/docs/errors#ip_not_allowed."`
	// Title is a short human summary of the code.
	Title string `json:"title" doc:"A short human summary of the code."`
	// Status is the HTTP status code.
	Status int `json:"status" minimum:"400" maximum:"599" doc:"The HTTP status code."`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty" doc:"What happened this time."`
	// Code is the stable machine-readable code clients branch on.
	Code string `json:"code" doc:"The stable machine-readable code to branch on."`
	// RequestID is the id of the request that failed (X-Request-Id).
	RequestID string `json:"request_id,omitempty" doc:"The X-Request-Id of the request that failed; quote it to support."`
	// Errors lists the invalid inputs of a validation failure.
	Errors []FieldError `json:"errors,omitempty" doc:"The invalid inputs of a validation failure."`
}

// New returns the document for code with status, title and detail; the type URL comes from
// the code.
func New(status int, code, title, detail, requestID string) Document {
	return Document{Type: TypeURL(code), Title: title, Status: status, Detail: detail, Code: code, RequestID: requestID}
}

// Marshal encodes d; it cannot fail for these field types unless a FieldError value cannot
// be encoded, in which case the values are dropped. (A function, not a method, so the
// control plane's Huma error type can embed Document: Huma's schema links cannot copy an
// embedded type with methods.)
func Marshal(d Document) []byte {
	raw, err := json.Marshal(d)
	if err != nil {
		for i := range d.Errors {
			d.Errors[i].Value = nil
		}
		raw, _ = json.Marshal(d)
	}
	return raw
}

// Write sends d with its status and media type. A document without a request id takes the
// one already set on the response's X-Request-Id header.
func Write(w http.ResponseWriter, d Document) {
	if d.RequestID == "" {
		d.RequestID = w.Header().Get(identity.HeaderRequestID)
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(d.Status)
	_, _ = w.Write(append(Marshal(d), '\n'))
}

// StatusCode returns the generic code for an HTTP status, for problems that have no more
// specific one (a malformed body is bad_request, an unknown path not_found).
func StatusCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusPaymentRequired:
		return "payment_required"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusNotAcceptable:
		return "not_acceptable"
	case http.StatusConflict:
		return "conflict"
	case http.StatusGone:
		return "gone"
	case http.StatusPreconditionFailed:
		return "precondition_failed"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusUnprocessableEntity:
		return "validation_failed"
	case http.StatusTooManyRequests:
		return "rate_limited"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusGatewayTimeout:
		return "upstream_timeout"
	case http.StatusBadGateway:
		return "upstream_error"
	}
	if status >= 500 {
		return "internal_error"
	}
	return "bad_request"
}

// Title returns the generic title of an HTTP status.
func Title(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}
