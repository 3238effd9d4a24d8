package edge

import (
	"encoding/json"
	"net/http"
)

// Stable denial codes (ARCHITECTURE.md); clients may branch on them.
const (
	// CodeMissingKey (401): no key in Authorization: Bearer or X-Api-Key.
	CodeMissingKey = "missing_key"
	// CodeInvalidKey (401): malformed, mistyped (checksum), unknown, or ambiguous key.
	CodeInvalidKey = "invalid_key"
	// CodeKeyRevoked (401): the key was revoked.
	CodeKeyRevoked = "key_revoked"
	// CodeKeyExpired (401): the key expired, or a rolled key's grace period ended.
	CodeKeyExpired = "key_expired"
	// CodeIPNotAllowed (403): the client address is outside the key's allowlist.
	CodeIPNotAllowed = "ip_not_allowed"
	// CodeForbiddenByPolicy (403): the policy denied the key this route.
	CodeForbiddenByPolicy = "forbidden_by_policy"
	// CodePartnerSuspended (403): the key's partner is suspended.
	CodePartnerSuspended = "partner_suspended"
	// CodePolicyError means the policy could not be evaluated; the edge fails closed.
	CodePolicyError = "policy_error"
	// CodeInternal is used by hosts when a request panics.
	CodeInternal = "internal_error"
)

// ProblemContentType is the media type of denial bodies (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemTypeBase prefixes a code to form a problem's type URI.
const ProblemTypeBase = "https://docs.steller.dev/problems/"

// WWWAuthenticate is the challenge hosts send with 401 denials.
const WWWAuthenticate = `Bearer realm="steller"`

var codeInfo = map[string]struct {
	status int
	title  string
	detail string
}{
	CodeMissingKey:        {http.StatusUnauthorized, "API key missing", "Send your API key as \"Authorization: Bearer <key>\" or \"X-Api-Key: <key>\"."},
	CodeInvalidKey:        {http.StatusUnauthorized, "Invalid API key", "The API key is not valid."},
	CodeKeyRevoked:        {http.StatusUnauthorized, "API key revoked", "The API key has been revoked."},
	CodeKeyExpired:        {http.StatusUnauthorized, "API key expired", "The API key has expired."},
	CodeIPNotAllowed:      {http.StatusForbidden, "Client address not allowed", "Requests with this key are not allowed from this client address."},
	CodeForbiddenByPolicy: {http.StatusForbidden, "Forbidden", "The key is not allowed to make this request."},
	CodePartnerSuspended:  {http.StatusForbidden, "Partner suspended", "The partner account is suspended."},
	CodePolicyError:       {http.StatusServiceUnavailable, "Authorization unavailable", "The request could not be authorized right now; retry later."},
	CodeInternal:          {http.StatusInternalServerError, "Internal error", "The edge failed to process the request."},
}

func statusFor(code string) int {
	if info, ok := codeInfo[code]; ok {
		return info.status
	}
	return http.StatusForbidden
}

func detailFor(code string) string { return codeInfo[code].detail }

// Problem is an RFC 9457 problem document with Steller's extension members.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// Problem returns the problem document of a denial.
func (o *Outcome) Problem() Problem {
	return NewProblem(o.Code, o.Detail, o.RequestID)
}

// ProblemJSON returns the denial's problem document as JSON.
func (o *Outcome) ProblemJSON() []byte {
	return o.Problem().JSON()
}

// NewProblem builds the problem document for a code; an empty detail takes the code's
// default.
func NewProblem(code, detail, requestID string) Problem {
	info, ok := codeInfo[code]
	if !ok {
		info = codeInfo[CodeForbiddenByPolicy]
	}
	if detail == "" {
		detail = info.detail
	}
	return Problem{Type: ProblemTypeBase + code, Title: info.title, Status: info.status, Detail: detail, Code: code, RequestID: requestID}
}

// JSON encodes the problem; it cannot fail for these field types.
func (p Problem) JSON() []byte {
	raw, _ := json.Marshal(p)
	return raw
}
