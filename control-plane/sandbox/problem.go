package sandbox

import (
	"net/http"

	"github.com/steller/platform/contract/problem"
)

// Stable problem codes of the sandbox API and its live mode (README.md lists them).
const (
	codeMissingIdentity  = "missing_identity"
	codeNotSandbox       = "environment_not_sandbox"
	codeNotLive          = "environment_not_live"
	codeNoBalance        = "balance_not_available"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeOrderNotFound    = "order_not_found"
	codeIdempotencyKey   = "idempotency_key_invalid"
	codeKeyReused        = "idempotency_key_reused"
	codeValidation       = "validation_failed"
	codeInsufficient     = "insufficient_balance"
	codeInternal         = "internal_error"
)

var problems = map[string]struct {
	status        int
	title, detail string
}{
	codeMissingIdentity: {http.StatusUnauthorized, "Identity missing", "The sandbox serves only requests forwarded by the Steller edge with a test key."},
	codeNotSandbox:      {http.StatusForbidden, "Not a test key", "The sandbox vendor serves only test keys (X-Steller-Environment: test)."},
	codeNotLive:         {http.StatusForbidden, "Not a live key", "The live vendor serves only live keys (X-Steller-Environment: live)."},
	codeNoBalance: {http.StatusNotFound, "No balance", "The local live vendor stand-in holds no money, so it has no balance to show: live orders " +
		"here are not paid from a balance. The production gift-card API answers from your funded account."},
	codeNotFound:         {http.StatusNotFound, "Not found", "No such path."},
	codeMethodNotAllowed: {http.StatusMethodNotAllowed, "Method not allowed", "The path does not support this method."},
	codeOrderNotFound:    {http.StatusNotFound, "Order not found", "No order with this id exists for your account."},
	codeIdempotencyKey:   {http.StatusBadRequest, "Idempotency-Key required", "Send an Idempotency-Key header of 1 to 255 characters with every POST /v1/orders."},
	codeKeyReused:        {http.StatusUnprocessableEntity, "Idempotency-Key reused", "This Idempotency-Key was already used with a different request body."},
	codeValidation:       {http.StatusUnprocessableEntity, "Invalid order", "The order request is not valid; see errors."},
	codeInsufficient:     {http.StatusPaymentRequired, "Insufficient balance", "The sandbox balance does not cover this order; nothing was charged."},
	codeInternal:         {http.StatusInternalServerError, "Internal error", "The sandbox failed to process the request; retry with the same Idempotency-Key."},
}

// liveDetails are the default details that name the live vendor stand-in instead of the
// sandbox.
var liveDetails = map[string]string{
	codeMissingIdentity: "The live vendor serves only requests forwarded by the Steller edge with a live key.",
	codeInternal:        "The live vendor failed to process the request; retry with the same Idempotency-Key.",
}

// writeProblem answers with the problem document of code (contract/problem's shape, with
// the field errors of a validation failure); an empty detail takes the code's default for
// the vendor's mode.
func (v *Vendor) writeProblem(w http.ResponseWriter, requestID, code, detail string, errs []problem.FieldError) {
	info := problems[code]
	if detail == "" {
		detail = info.detail
		if d, ok := liveDetails[code]; ok && !v.mode.magic {
			detail = d
		}
	}
	d := problem.New(info.status, code, info.title, detail, requestID)
	d.Errors = errs
	problem.Write(w, d)
}
