package edge

import (
	"maps"
	"net/http"
	"slices"

	"github.com/steller/platform/contract/problem"
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
	// CodeUpstreamUnavailable (502): the upstream could not be reached or failed mid-answer.
	CodeUpstreamUnavailable = "upstream_unavailable"
	// CodeUpstreamTimeout (504): the upstream did not answer in time.
	CodeUpstreamTimeout = "upstream_timeout"
)

// WWWAuthenticate is the challenge hosts send with 401 denials.
const WWWAuthenticate = `Bearer realm="steller"`

var codeInfo = map[string]struct {
	status int
	title  string
	detail string
}{
	CodeMissingKey:          {http.StatusUnauthorized, "API key missing", "Send your API key as \"Authorization: Bearer <key>\" or \"X-Api-Key: <key>\"."},
	CodeInvalidKey:          {http.StatusUnauthorized, "Invalid API key", "The API key is not valid."},
	CodeKeyRevoked:          {http.StatusUnauthorized, "API key revoked", "The API key has been revoked."},
	CodeKeyExpired:          {http.StatusUnauthorized, "API key expired", "The API key has expired."},
	CodeIPNotAllowed:        {http.StatusForbidden, "Client address not allowed", "Requests with this key are not allowed from this client address."},
	CodeForbiddenByPolicy:   {http.StatusForbidden, "Forbidden", "The key is not allowed to make this request."},
	CodePartnerSuspended:    {http.StatusForbidden, "Partner suspended", "The partner account is suspended."},
	CodePolicyError:         {http.StatusServiceUnavailable, "Authorization unavailable", "The request could not be authorized right now; retry later."},
	CodeInternal:            {http.StatusInternalServerError, "Internal error", "The edge failed to process the request."},
	CodeUpstreamUnavailable: {http.StatusBadGateway, "Upstream unavailable", "The upstream service did not answer."},
	CodeUpstreamTimeout:     {http.StatusGatewayTimeout, "Upstream timeout", "The upstream service did not answer in time."},
}

// Codes returns every denial code, sorted.
func Codes() []string {
	return slices.Sorted(maps.Keys(codeInfo))
}

func statusFor(code string) int {
	if info, ok := codeInfo[code]; ok {
		return info.status
	}
	return http.StatusForbidden
}

func detailFor(code string) string { return codeInfo[code].detail }

// Problem returns the problem document of a denial.
func (o *Outcome) Problem() problem.Document {
	return NewProblem(o.Code, o.Detail, o.RequestID)
}

// ProblemJSON returns the denial's problem document as JSON.
func (o *Outcome) ProblemJSON() []byte {
	return problem.Marshal(o.Problem())
}

// NewProblem builds the problem document for an edge code (contract/problem's shape); an
// empty detail takes the code's default.
func NewProblem(code, detail, requestID string) problem.Document {
	info, ok := codeInfo[code]
	if !ok {
		info = codeInfo[CodeForbiddenByPolicy]
	}
	if detail == "" {
		detail = info.detail
	}
	return problem.New(info.status, code, info.title, detail, requestID)
}
