package fault

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/contract/problem"
)

// ErrorModel is the problem document Huma writes for every control-plane error: the shape of
// contract/problem, so the OpenAPI document's error schema declares every field sent.
type ErrorModel struct {
	problem.Document
	cause error
}

// Error implements error with the caller-safe detail.
func (e *ErrorModel) Error() string { return e.Detail }

// GetStatus implements huma.StatusError.
func (e *ErrorModel) GetStatus() int { return e.Status }

// ContentType implements huma.ContentTypeFilter: problems are application/problem+json.
func (e *ErrorModel) ContentType(string) string { return problem.ContentType }

// Unwrap returns the cause, for tests and the log.
func (e *ErrorModel) Unwrap() error { return e.cause }

type requestKey struct{}

type requestInfo struct {
	id  string
	log *slog.Logger
}

// WithRequest returns ctx carrying the request's id and the logger its 5xx problems are
// logged to; the API's outermost middleware sets it on every request.
func WithRequest(ctx context.Context, requestID string, log *slog.Logger) context.Context {
	return context.WithValue(ctx, requestKey{}, requestInfo{id: requestID, log: log})
}

// RequestID returns the request id WithRequest put in ctx, or "".
func RequestID(ctx context.Context) string {
	info, _ := ctx.Value(requestKey{}).(requestInfo)
	return info.id
}

// init makes Huma build every error through this package. huma.NewError and
// huma.NewErrorWithContext are package variables in Huma, so this is process-wide; it is
// done when the package is linked, so every Huma API that registers control-plane
// operations (the server's and every humatest one) writes the same problem shape, and no
// handler can return an error Huma would answer otherwise.
func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return build(context.Background(), status, msg, errs)
	}
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		ctx := context.Background()
		if hctx != nil {
			ctx = hctx.Context()
		}
		return build(ctx, status, msg, errs)
	}
}

// Problem maps err to the problem Huma answers with, for code outside a Huma handler's
// return (middleware). Handlers simply return err.
func Problem(ctx context.Context, err error) huma.StatusError {
	var se huma.StatusError
	if errors.As(err, &se) {
		return se
	}
	return build(ctx, http.StatusInternalServerError, "", []error{err})
}

// build is the one mapping. Huma calls it with the status it chose (422 for a schema
// violation, 400 for a body it cannot parse, 500 for an error a handler returned) and the
// errors it has; an error of a fault kind decides the status and code itself.
func build(ctx context.Context, status int, msg string, errs []error) *ErrorModel {
	var (
		cause   error
		details []problem.FieldError
		code    string
	)
	for _, err := range errs {
		if err == nil {
			continue
		}
		var fe *Error
		isFault := errors.As(err, &fe)
		kstatus, kcode, kind := KindCode(err)
		decides := kind && status >= http.StatusInternalServerError
		if decides { // a service error a handler returned: its kind decides the answer
			status, code, msg = kstatus, kcode, err.Error()
			if isFault {
				msg, cause = fe.Message, fe.Cause
				if fe.Code != "" {
					code = fe.Code
				}
			}
		}
		d, detailer := err.(huma.ErrorDetailer)
		switch {
		case isFault && fe.Field != "":
			details = append(details, problem.FieldError{Location: fe.Field, Message: fe.Message, Value: fe.Value})
		case decides:
		case detailer:
			hd := d.ErrorDetail()
			details = append(details, problem.FieldError{Location: hd.Location, Message: hd.Message, Value: hd.Value})
		case status >= http.StatusInternalServerError:
			cause = errors.Join(cause, err)
		default:
			details = append(details, problem.FieldError{Message: err.Error()})
		}
	}
	if code == "" {
		code = problem.StatusCode(status) // internal_error for a 500
	}
	if status >= http.StatusInternalServerError && (status == http.StatusInternalServerError || cause != nil) {
		if status == http.StatusInternalServerError {
			msg = "internal error: the request id identifies this failure in Steller's logs"
		}
		logFailure(ctx, status, code, msg, cause)
	}
	id := RequestID(ctx)
	doc := problem.New(status, code, problem.Title(status), msg, id)
	doc.Errors = details
	return &ErrorModel{Document: doc, cause: cause}
}

// logFailure logs a 5xx once, with its cause and request id; the caller never sees the cause.
func logFailure(ctx context.Context, status int, code, msg string, cause error) {
	info, _ := ctx.Value(requestKey{}).(requestInfo)
	if info.log == nil {
		return // outside a request (Huma's schema example): nothing failed
	}
	attrs := []slog.Attr{slog.String("request_id", info.id), slog.Int("status", status), slog.String("code", code)}
	if cause != nil {
		attrs = append(attrs, slog.String("error", cause.Error()))
	} else {
		attrs = append(attrs, slog.String("error", msg))
	}
	info.log.LogAttrs(ctx, slog.LevelError, "request failed", attrs...)
}
