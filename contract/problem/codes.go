package problem

import (
	"net/http"
	"slices"
)

// Code is one stable problem code: the value of a document's code member, the HTTP status
// it is sent with, and a short title for its entry in the errors guide.
type Code struct {
	// Name is the code itself, such as "ip_not_allowed".
	Name string
	// Status is the HTTP status it is sent with.
	Status int
	// Title is a short human summary, shown in the guide's entry. The services keep their own
	// titles (the control plane's is the status text), so a document's may be more generic.
	Title string
}

// codes is every code a Steller service sends (README.md "Problem codes" and the portal's
// /docs/errors have an entry for each; their tests compare them with this list, and the
// portal's test finds the codes in the source and fails for one missing here).
var codes = []Code{
	// The edge: keys, allowlists, policy, upstreams.
	{"missing_key", http.StatusUnauthorized, "API key missing"},
	{"invalid_key", http.StatusUnauthorized, "Invalid API key"},
	{"key_revoked", http.StatusUnauthorized, "API key revoked"},
	{"key_expired", http.StatusUnauthorized, "API key expired"},
	{"ip_not_allowed", http.StatusForbidden, "Client address not allowed"},
	{"forbidden_by_policy", http.StatusForbidden, "Forbidden by policy"},
	{"partner_suspended", http.StatusForbidden, "Partner suspended"},
	{"policy_error", http.StatusServiceUnavailable, "Authorization unavailable"},
	{"upstream_unavailable", http.StatusBadGateway, "Upstream unavailable"},
	{"upstream_timeout", http.StatusGatewayTimeout, "Upstream timeout"},
	{"upstream_error", http.StatusBadGateway, "Bad gateway"},
	// Upstreams (contract/edgesign) and the sandbox vendor.
	{"edge_signature_missing", http.StatusUnauthorized, "Edge signature missing"},
	{"edge_signature_invalid", http.StatusUnauthorized, "Edge signature invalid"},
	{"edge_signature_stale", http.StatusUnauthorized, "Edge signature expired"},
	{"missing_identity", http.StatusUnauthorized, "Identity missing"},
	{"environment_not_sandbox", http.StatusForbidden, "Not a test key"},
	{"environment_not_live", http.StatusForbidden, "Not a live key"},
	{"order_not_found", http.StatusNotFound, "Order not found"},
	{"idempotency_key_invalid", http.StatusBadRequest, "Idempotency-Key required"},
	{"idempotency_key_reused", http.StatusUnprocessableEntity, "Idempotency-Key reused"},
	{"insufficient_balance", http.StatusPaymentRequired, "Insufficient balance"},
	{"balance_not_available", http.StatusNotFound, "No balance"},
	// Edge sync.
	{"resync_required", http.StatusGone, "Resync required"},
	// The control plane's specific codes.
	{"invalid_range", http.StatusUnprocessableEntity, "Invalid range"},
	{"interval_too_fine", http.StatusUnprocessableEntity, "Interval too fine"},
	{"unknown_source", http.StatusUnprocessableEntity, "Unknown source"},
	{"live_request_pending", http.StatusConflict, "Live request pending"},
	{"already_live", http.StatusConflict, "Already live"},
	{"live_request_reviewed", http.StatusConflict, "Live request already reviewed"},
	{"key_limit_reached", http.StatusConflict, "Key limit reached"},
	{"webhook_endpoint_limit_reached", http.StatusConflict, "Webhook endpoint limit reached"},
	{"test_order_rate_limited", http.StatusTooManyRequests, "Test order rate limited"},
	{"webhook_test_rate_limited", http.StatusTooManyRequests, "Webhook test rate limited"},
	// The generic code of each status (StatusCode).
	{"bad_request", http.StatusBadRequest, "Bad request"},
	{"unauthorized", http.StatusUnauthorized, "Unauthorized"},
	{"payment_required", http.StatusPaymentRequired, "Payment required"},
	{"forbidden", http.StatusForbidden, "Forbidden"},
	{"not_found", http.StatusNotFound, "Not found"},
	{"method_not_allowed", http.StatusMethodNotAllowed, "Method not allowed"},
	{"not_acceptable", http.StatusNotAcceptable, "Not acceptable"},
	{"conflict", http.StatusConflict, "Conflict"},
	{"gone", http.StatusGone, "Gone"},
	{"precondition_failed", http.StatusPreconditionFailed, "Precondition failed"},
	{"payload_too_large", http.StatusRequestEntityTooLarge, "Payload too large"},
	{"unsupported_media_type", http.StatusUnsupportedMediaType, "Unsupported media type"},
	{"validation_failed", http.StatusUnprocessableEntity, "Validation failed"},
	{"rate_limited", http.StatusTooManyRequests, "Rate limited"},
	{"internal_error", http.StatusInternalServerError, "Internal error"},
	{"unavailable", http.StatusServiceUnavailable, "Unavailable"},
}

// Codes returns every problem code a Steller service sends.
func Codes() []Code { return slices.Clone(codes) }

// Lookup returns the registered code named name, and false for an unknown one.
func Lookup(name string) (Code, bool) {
	i := slices.IndexFunc(codes, func(c Code) bool { return c.Name == name })
	if i < 0 {
		return Code{}, false
	}
	return codes[i], true
}

// TypeURL returns the type URL of code: its entry in the errors guide.
func TypeURL(code string) string { return TypeBase + code }
