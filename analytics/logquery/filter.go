package logquery

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/steller/platform/contract/identity"
)

// MaxPageSize is the largest page of request logs one call returns.
const MaxPageSize = 200

// ErrInvalid is matched (errors.Is) by every ValidationError, so the API layer can map
// any of them to a 422 without knowing the type.
var ErrInvalid = errors.New("logquery: invalid query")

// FieldError is one problem with one input. Field is the name of the query parameter it
// concerns (status, method, path, route, key_id, environment, from, to, request_id,
// client_request_id, denial_code, limit, cursor, interval, partner_id).
type FieldError struct {
	// Field names the query parameter.
	Field string `json:"field"`
	// Message says what is wrong, in words safe to show to the caller.
	Message string `json:"message"`
}

// ValidationError lists every problem found in a query, in a fixed field order.
type ValidationError []FieldError

// Error joins the problems into one line.
func (e ValidationError) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Field + ": " + fe.Message
	}
	return "logquery: invalid query: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e ValidationError) Is(target error) bool { return target == ErrInvalid }

// Fields returns the names of the fields with a problem, in order.
func (e ValidationError) Fields() []string {
	out := make([]string, len(e))
	for i, fe := range e {
		out[i] = fe.Field
	}
	return out
}

// problems collects field errors; err returns nil when there are none.
type problems ValidationError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return ValidationError(p)
}

// Filter selects one partner's request logs. Empty fields (and zero numbers and times)
// do not filter. Times are compared at millisecond precision.
type Filter struct {
	// PartnerID is required: it is the table's leading key and the tenant boundary.
	PartnerID string
	// Environment is "test" or "live".
	Environment string
	// Method is an HTTP method in upper case, such as GET.
	Method string
	// Route is the edge's route name, such as orders.create.
	Route string
	// KeyID is the id of the API key that made the request.
	KeyID string
	// RequestID selects one request by the edge's request id.
	RequestID string
	// ClientRequestID selects the requests whose client sent this X-Request-Id; many
	// requests may share one.
	ClientRequestID string
	// DenialCode is the edge's denial code, such as ip_not_allowed.
	DenialCode string
	// Path matches the request path exactly, or as a prefix when PathPrefix is set.
	Path string
	// PathPrefix makes Path a prefix match.
	PathPrefix bool
	// StatusCode matches one status (100-599).
	StatusCode int
	// StatusClass matches a class of statuses: 1 to 5 for 1xx to 5xx. It excludes
	// StatusCode.
	StatusClass int
	// From is the inclusive lower time bound; zero means unbounded.
	From time.Time
	// To is the exclusive upper time bound; zero means unbounded.
	To time.Time
}

// Cursor is the sort key of the last row of a page: the next page holds the rows strictly
// older in (timestamp_ms, request_id) order. It carries no partner, so a cursor can
// never widen a query beyond the filter's partner.
type Cursor struct {
	// TimestampMs is the row's event time in Unix milliseconds.
	TimestampMs uint64 `json:"timestamp_ms"`
	// RequestID is the row's request id.
	RequestID string `json:"request_id"`
}

// Limits on free-text inputs: far above any real value, low enough to keep a query small.
const (
	maxIDLen    = 128
	maxRouteLen = 256
	maxPathLen  = 2048
)

var (
	methodPattern = regexp.MustCompile(`^[A-Z]{1,16}$`)
	codePattern   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Validate reports every problem with the filter as a ValidationError, or nil.
func (f Filter) Validate() error {
	var p problems
	f.check(&p)
	return p.err()
}

// ValidatePage validates a whole page request: the filter, the cursor and the page size
// (1 to MaxPageSize), every problem together.
func ValidatePage(f Filter, after *Cursor, limit int) error {
	var p problems
	f.check(&p)
	if limit < 1 || limit > MaxPageSize {
		p.add("limit", "must be between 1 and %d", MaxPageSize)
	}
	if after != nil && (after.TimestampMs == 0 || after.RequestID == "" || !cleanText(after.RequestID, maxIDLen)) {
		p.add("cursor", "is not a position in these logs; start again without it")
	}
	return p.err()
}

func (f Filter) check(p *problems) {
	if f.PartnerID == "" {
		p.add("partner_id", "is required")
	} else if !cleanText(f.PartnerID, maxIDLen) {
		p.add("partner_id", "must be printable text of at most %d characters", maxIDLen)
	}
	switch {
	case f.StatusCode != 0 && f.StatusClass != 0:
		p.add("status", "give a status code or a status class, not both")
	case f.StatusCode != 0 && (f.StatusCode < 100 || f.StatusCode > 599):
		p.add("status", "must be a status code from 100 to 599")
	case f.StatusClass != 0 && (f.StatusClass < 1 || f.StatusClass > 5):
		p.add("status", "must be a status class from 1xx to 5xx")
	}
	if f.Method != "" && !methodPattern.MatchString(f.Method) {
		p.add("method", "must be an HTTP method in upper case, such as GET")
	}
	switch {
	case f.Path == "" && f.PathPrefix:
		p.add("path", "a prefix match needs a path")
	case f.Path != "" && (!strings.HasPrefix(f.Path, "/") || !cleanText(f.Path, maxPathLen)):
		p.add("path", "must start with / and be printable text of at most %d characters", maxPathLen)
	}
	if f.Route != "" && !cleanText(f.Route, maxRouteLen) {
		p.add("route", "must be printable text of at most %d characters", maxRouteLen)
	}
	if f.KeyID != "" && !cleanText(f.KeyID, maxIDLen) {
		p.add("key_id", "must be printable text of at most %d characters", maxIDLen)
	}
	if f.Environment != "" && f.Environment != "test" && f.Environment != "live" {
		p.add("environment", "must be test or live")
	}
	checkRange(p, f.From, f.To, false)
	if f.RequestID != "" && !cleanText(f.RequestID, maxIDLen) {
		p.add("request_id", "must be printable text of at most %d characters", maxIDLen)
	}
	if f.ClientRequestID != "" && !identity.ValidClientRequestID(f.ClientRequestID) {
		p.add("client_request_id", "must be 1 to %d letters, digits or . _ : -", identity.MaxClientRequestIDLen)
	}
	if f.DenialCode != "" && !codePattern.MatchString(f.DenialCode) {
		p.add("denial_code", "must be a denial code such as ip_not_allowed")
	}
}

// checkRange checks a [from, to) time range; required makes both ends mandatory.
func checkRange(p *problems, from, to time.Time, required bool) {
	epoch := time.Unix(0, 0)
	switch {
	case from.IsZero() && required:
		p.add("from", "is required")
	case !from.IsZero() && from.Before(epoch):
		p.add("from", "must not be before 1970")
	}
	switch {
	case to.IsZero() && required:
		p.add("to", "is required")
	case !to.IsZero() && to.Before(epoch):
		p.add("to", "must not be before 1970")
	case !to.IsZero() && !from.IsZero() && !to.After(from):
		p.add("to", "must be after from")
	}
}

// cleanText reports whether s is valid UTF-8 of at most maxLen characters (as JSON Schema
// counts maxLength) without control characters.
func cleanText(s string, maxLen int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLen {
		return false
	}
	return strings.IndexFunc(s, unicode.IsControl) < 0
}
