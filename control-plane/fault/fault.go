// Package fault owns the control plane's error kinds (not found, conflict, validation,
// forbidden, unauthorized, rate limited, gone, unavailable) and their one mapping to RFC
// 9457 problem responses. Stores and services return these kinds; handlers return fault.Problem(err),
// so an error is translated to HTTP in exactly one place.
package fault

import (
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
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

// Error is an error of one kind with a message safe to show to the caller and, for
// validation errors, the input field it concerns (a JSON path such as "body.email").
type Error struct {
	// Kind is one of the Err* values above.
	Kind error
	// Message is shown to the caller.
	Message string
	// Field locates a validation error in the input; empty otherwise.
	Field string
	// Value is the offending input value, for validation errors (never a secret).
	Value any
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is match the kind.
func (e *Error) Unwrap() error { return e.Kind }

// New returns an error of kind with a caller-safe message.
func New(kind error, message string) error { return &Error{Kind: kind, Message: message} }

// Invalid returns a validation error about one input field.
func Invalid(field, message string, value any) error {
	return &Error{Kind: ErrValidation, Message: message, Field: field, Value: value}
}

// Problem maps an error to the Huma problem response for its kind. Errors of no kind are
// internal: the caller sees a generic 500 and the detail stays in the server's logs.
func Problem(err error) error {
	if err == nil {
		return nil
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return err // already a problem response
	}
	message := err.Error()
	var fe *Error
	if errors.As(err, &fe) {
		message = fe.Message
	}
	switch {
	case errors.Is(err, ErrValidation):
		if fe != nil && fe.Field != "" {
			return huma.Error422UnprocessableEntity(message, &huma.ErrorDetail{Message: message, Location: fe.Field, Value: fe.Value})
		}
		return huma.Error422UnprocessableEntity(message)
	case errors.Is(err, ErrNotFound):
		return huma.Error404NotFound(message)
	case errors.Is(err, ErrConflict):
		return huma.Error409Conflict(message)
	case errors.Is(err, ErrForbidden):
		return huma.Error403Forbidden(message)
	case errors.Is(err, ErrUnauthorized):
		return huma.Error401Unauthorized(message)
	case errors.Is(err, ErrRateLimited):
		return huma.NewError(http.StatusTooManyRequests, message)
	case errors.Is(err, ErrGone):
		return huma.NewError(http.StatusGone, message)
	case errors.Is(err, ErrUnavailable):
		return huma.Error503ServiceUnavailable(message)
	}
	return huma.Error500InternalServerError("internal error")
}
