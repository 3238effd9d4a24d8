package input_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steller/platform/control-plane/fault"
	"github.com/steller/platform/control-plane/input"
)

func TestDurationParsesWhatItsPatternAdmits(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(input.DurationPattern)
	for raw, want := range map[string]time.Duration{
		"0": 0, "0s": 0, "24h": 24 * time.Hour, "1h30m": 90 * time.Minute, "1.5s": 1500 * time.Millisecond,
		"250ms": 250 * time.Millisecond, "3µs": 3 * time.Microsecond, "3us": 3 * time.Microsecond, "10ns": 10,
	} {
		assert.True(t, re.MatchString(raw), raw)
		got, err := input.Duration(raw).Parse("body.d", time.Hour)
		assert.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
	// Go's parser takes some of these; the API refuses them all, as its schema says.
	for _, raw := range []string{"-1h", "+1h", ".5s", "1.h", "1", "h", "1d", "24 h", " 24h", "0000000000000000000000000000000", "99999999999999999999h"} {
		_, err := input.Duration(raw).Parse("body.d", time.Hour)
		var fe *fault.Error
		if assert.True(t, errors.As(err, &fe), "%s: %v", raw, err) {
			assert.Equal(t, fault.ErrValidation, fe.Kind, raw)
			assert.Equal(t, "body.d", fe.Field, raw)
		}
		if len(raw) <= 32 && re.MatchString(raw) {
			assert.Contains(t, err.Error(), "out of range", raw) // only overflow gets past the pattern
		}
	}
	got, err := input.Duration("").Parse("body.d", time.Hour)
	assert.NoError(t, err)
	assert.Equal(t, time.Hour, got, "empty takes the default")
}
