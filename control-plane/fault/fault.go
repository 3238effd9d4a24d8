// Package fault owns the control plane's error model: the error kinds stores and services
// return (not found, conflict, validation, forbidden, unauthorized, rate limited, gone,
// unavailable), their stable problem codes, and the one mapping from errors to RFC 9457
// problem documents (contract/problem's shape). Handlers return service errors as they are;
// Huma turns each into a problem through the constructors this package installs, which is the only place an
// error becomes HTTP, and which logs every 5xx once with its cause and request id.
package fault

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/steller/platform/contract/problem"
)

// The error kinds, matched with errors.Is.
var (
	// ErrNotFound: the thing does not exist, or the caller may not know it exists.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the current state (duplicate email, last owner).
	ErrConflict = errors.New("conflict")
	// ErrValidation: the input is well-formed but unacceptable (weak password, bad CIDR).
	ErrValidation = errors.New("validation failed")
	// ErrForbidden: the caller is known but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: the caller is not signed in, or its credentials are bad.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrRateLimited: too many attempts; try again later.
	ErrRateLimited = errors.New("rate limited")
	// ErrGone: the thing existed but can no longer be used (expired or used invitation).
	ErrGone = errors.New("gone")
	// ErrUnavailable: a service this one depends on is not configured or not answering.
	ErrUnavailable = errors.New("unavailable")
)

// Stable codes of control-plane problems beyond each kind's own (README.md, "Problem codes").
const (
	// CodePolicyError: the authorization policy could not be evaluated (503; never a 403).
	CodePolicyError = "policy_error"
	// CodeInternal: an unexpected failure; its cause is logged, never shown.
	CodeInternal = "internal_error"

	// Tenant limits: a cap on a count of things is an ErrConflict (409), resolved by
	// removing one; a cap on a rate is an ErrRateLimited (429) with Retry-After.

	// CodeKeyLimitReached: the workspace has as many active API keys (or rolled keys in
	// their grace period) as its limit allows (409).
	CodeKeyLimitReached = "key_limit_reached"
	// CodeWebhookEndpointLimitReached: the workspace has as many webhook endpoints as its
	// limit allows (409).
	CodeWebhookEndpointLimitReached = "webhook_endpoint_limit_reached"
	// CodeTestOrderRateLimited: the partner placed as many console test orders as its
	// limit allows in the current window (429).
	CodeTestOrderRateLimited = "test_order_rate_limited"
	// CodeWebhookTestRateLimited: the partner sent as many webhook test events as its
	// limit allows in the current window (429).
	CodeWebhookTestRateLimited = "webhook_test_rate_limited"
)

// kinds maps each kind to its status; its default code is the status's
// (problem.StatusCode: validation_failed, not_found, conflict, ...).
var kinds = []struct {
	kind   error
	status int
}{
	{ErrValidation, http.StatusUnprocessableEntity},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrForbidden, http.StatusForbidden},
	{ErrUnauthorized, http.StatusUnauthorized},
	{ErrRateLimited, http.StatusTooManyRequests},
	{ErrGone, http.StatusGone},
	{ErrUnavailable, http.StatusServiceUnavailable},
}

// Error is an error of one kind with a message safe to show to the caller, an optional
// code more specific than the kind's, and, for validation errors, the input field it
// concerns. Cause, when set, is logged and never shown.
type Error struct {
	// Kind is one of the Err* values above.
	Kind error
	// Code is the problem code; empty takes the kind's own (KindCode).
	Code string
	// Message is shown to the caller.
	Message string
	// Field locates a validation error in the input (a JSON path such as "body.email").
	Field string
	// Value is the offending input value, for validation errors (never a secret).
	Value any
	// Cause is the underlying failure, for the log.
	Cause error
	// RetryAfter, when positive, is sent as the Retry-After header (a rate limit's wait).
	RetryAfter time.Duration
}

// GetHeaders gives Huma the Retry-After header of a rate-limited error.
func (e *Error) GetHeaders() http.Header {
	if e.RetryAfter <= 0 {
		return nil
	}
	return http.Header{"Retry-After": {strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds()))))}}
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is match the kind, and errors.As reach the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// New returns an error of kind with a caller-safe message.
func New(kind error, message string) error { return &Error{Kind: kind, Message: message} }

// Coded returns an error of kind with its own stable code and a caller-safe message.
func Coded(kind error, code, message string) error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap returns an error of kind with code and a caller-safe message whose cause is logged.
func Wrap(kind error, code, message string, cause error) error {
	return &Error{Kind: kind, Code: code, Message: message, Cause: cause}
}

// Invalid returns a validation error about one input field.
func Invalid(field, message string, value any) error {
	return &Error{Kind: ErrValidation, Message: message, Field: field, Value: value}
}

// KindCode returns the status and default problem code of err's kind, and false for an
// error of no kind (an internal error).
func KindCode(err error) (status int, code string, ok bool) {
	var fe *Error
	if errors.As(err, &fe) {
		err = fe.Kind // the outermost fault's kind wins over any kind in its cause
	}
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k.status, problem.StatusCode(k.status), true
		}
	}
	return http.StatusInternalServerError, CodeInternal, false
}
