// Package input owns the control plane's input types whose rule the OpenAPI schema states
// and the handlers enforce from one definition, so the document and the server agree.
package input

import (
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/danielgtaylor/huma/v2"

	"github.com/steller/platform/control-plane/fault"
)

// DurationPattern is the spelling Duration accepts: "0", or one or more decimal numbers
// each with a unit (ns, us, µs, ms, s, m, h), as in 24h, 1h30m, 1.5s. Go's own parser also
// takes signs and forms such as ".5s"; the API does not.
const DurationPattern = `^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`

var durationRe = regexp.MustCompile(DurationPattern)

// maxDurationLen bounds a Duration's text.
const maxDurationLen = 32

// Duration is a length of time in a request body, written as DurationPattern says.
type Duration string

// Schema describes Duration to Huma: a string with DurationPattern.
func (Duration) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Pattern: DurationPattern, MaxLength: ptr(maxDurationLen),
		PatternDescription: "a duration such as 24h, 90m or 1h30m", Examples: []any{"24h"}}
}

// Parse returns d, or def when d is empty. A value not in DurationPattern's spelling, or
// too long for a time.Duration, is a validation problem at location; the services bound it.
func (d Duration) Parse(location string, def time.Duration) (time.Duration, error) {
	if d == "" {
		return def, nil
	}
	if len(d) > maxDurationLen || !durationRe.MatchString(string(d)) {
		return 0, fault.Invalid(location, "not a duration such as 24h, 90m or 1h30m", string(d))
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fault.Invalid(location, "the duration is out of range", string(d))
	}
	return v, nil
}

// PlainTextPattern is PlainText's rule as a schema pattern: no control characters (C0,
// DEL, C1), which names shown in the portal, logs and e-mails must not carry.
const PlainTextPattern = `^[^\x00-\x1f\x7f-\x9f]*$`

// PlainText refuses s, the value of field, when it holds a control character. Services
// check it too, so callers in process (the portal) meet the same rule as the API.
func PlainText(field, s string) error {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fault.Invalid(field, "must not contain control characters (such as newlines or tabs)", s)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
