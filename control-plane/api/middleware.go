package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/contract/identity"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/auth"
	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/internal/clientip"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the request id of ctx, or "" outside a request.
func RequestID(ctx context.Context) string { return fault.RequestID(ctx) }

func newRequestID() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(raw[:])
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// unstorableText names the part of r's URL (the path, or a query parameter) that holds
// text no PostgreSQL column can store (a NUL byte or invalid UTF-8), or returns "". Such a
// request is refused whole with a 400 before any handler sees it.
func unstorableText(r *http.Request) string {
	bad := func(s string) bool { return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 }
	if bad(r.URL.Path) {
		return "the path"
	}
	for name, values := range r.URL.Query() {
		if bad(name) {
			return "a query parameter name"
		}
		for _, v := range values {
			if bad(v) {
				return "query parameter " + strconv.Quote(name)
			}
		}
	}
	return ""
}

// withRequest gives every request an id (the caller's, when valid) echoed in the
// response, and logs it once done.
func withRequest(next http.Handler, log *slog.Logger, clock func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !identity.ValidClientRequestID(id) { // a client or proxy id by the edge's rule; else replaced
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		start := clock()
		rec := &statusRecorder{ResponseWriter: w}
		if where := unstorableText(r); where != "" {
			problem.Write(rec, problem.New(http.StatusBadRequest, problem.StatusCode(http.StatusBadRequest), "Bad Request",
				where+" contains a NUL byte or is not valid UTF-8", id))
		} else {
			next.ServeHTTP(rec, r.WithContext(fault.WithRequest(r.Context(), id, log)))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("took", clock().Sub(start)))
	})
}

// addRequestID is a Huma transformer that puts the request id into problem documents Huma
// built without the request's context (huma.Error4xx in a handler).
func addRequestID(ctx huma.Context, _ string, v any) (any, error) {
	if e, ok := v.(*fault.ErrorModel); ok && e != nil && e.RequestID == "" {
		e.RequestID = RequestID(ctx.Context())
	}
	return v, nil
}

// sessionMiddleware puts the principal of a valid session (bearer token or cookie) in
// the request's context. Without a valid one the request goes on anonymous, and the
// operations that need a caller answer 401.
func (a *API) sessionMiddleware(ctx huma.Context, next func(huma.Context)) {
	cookie := ""
	if c, err := huma.ReadCookie(ctx, account.CookieName); err == nil {
		cookie = c.Value
	}
	token := account.TokenFrom(ctx.Header("Authorization"), cookie)
	if token == "" {
		next(ctx)
		return
	}
	p, err := a.accounts.Authenticate(ctx.Context(), token)
	switch {
	case err == nil:
		next(huma.WithContext(ctx, auth.WithPrincipal(ctx.Context(), p)))
	case errors.Is(err, fault.ErrUnauthorized):
		next(ctx)
	default:
		_ = huma.WriteErr(a.huma, ctx, http.StatusInternalServerError, "load session", err)
	}
}

// rateLimitMiddleware applies the per-IP limits to the sign-up and sign-in operations.
func (a *API) rateLimitMiddleware(ctx huma.Context, next func(huma.Context)) {
	var l *limiter
	switch ctx.Operation().OperationID {
	case account.OpSignup, acceptInviteOp:
		l = a.signupLimit
	case account.OpLogin, account.OpAdminLogin:
		l = a.loginLimit
	default:
		next(ctx)
		return
	}
	var forwardedFor []string
	ctx.EachHeader(func(name, value string) {
		if http.CanonicalHeaderKey(name) == "X-Forwarded-For" {
			forwardedFor = append(forwardedFor, value)
		}
	})
	client := clientip.LimitKey(a.clients.FromRemoteAddr(ctx.RemoteAddr(), forwardedFor))
	ok, wait := l.allow(ctx.Operation().OperationID + "|" + client)
	if !ok {
		ctx.SetHeader("Retry-After", retryAfterSeconds(wait))
		_ = huma.WriteErr(a.huma, ctx, http.StatusTooManyRequests, "too many attempts from your address: try again later")
		return
	}
	next(ctx)
}
