package sandbox

import (
	"net/http"

	"github.com/steller/platform/contract/problem"
)

// Stable problem codes of the sandbox API (README.md lists them).
const (
	codeMissingIdentity  = "missing_identity"
	codeNotSandbox       = "environment_not_sandbox"
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
	codeMissingIdentity:  {http.StatusUnauthorized, "Identity missing", "The sandbox serves only requests forwarded by the Steller edge with a test key."},
	codeNotSandbox:       {http.StatusForbidden, "Not a test key", "The sandbox vendor serves only test keys (X-Steller-Environment: test)."},
	codeNotFound:         {http.StatusNotFound, "Not found", "No such path."},
	codeMethodNotAllowed: {http.StatusMethodNotAllowed, "Method not allowed", "The path does not support this method."},
	codeOrderNotFound:    {http.StatusNotFound, "Order not found", "No order with this id exists for your account."},
	codeIdempotencyKey:   {http.StatusBadRequest, "Idempotency-Key required", "Send an Idempotency-Key header of 1 to 255 characters with every POST /v1/orders."},
	codeKeyReused:        {http.StatusUnprocessableEntity, "Idempotency-Key reused", "This Idempotency-Key was already used with a different request body."},
	codeValidation:       {http.StatusUnprocessableEntity, "Invalid order", "The order request is not valid; see errors."},
	codeInsufficient:     {http.StatusPaymentRequired, "Insufficient balance", "The sandbox balance does not cover this order; nothing was charged."},
	codeInternal:         {http.StatusInternalServerError, "Internal error", "The sandbox failed to process the request; retry with the same Idempotency-Key."},
}

// writeProblem answers with the problem document of code (contract/problem's shape, with
// the field errors of a validation failure); an empty detail takes the code's default.
func writeProblem(w http.ResponseWriter, requestID, code, detail string, errs []problem.FieldError) {
	info := problems[code]
	if detail == "" {
		detail = info.detail
	}
	d := problem.New(info.status, code, info.title, detail, requestID)
	d.Errors = errs
	problem.Write(w, d)
}
