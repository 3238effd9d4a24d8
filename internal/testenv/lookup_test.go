package testenv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// fatalRecorder stands in for a test to see what lookup does when a server is missing.
type fatalRecorder struct {
	testing.TB
	fatal   string
	skipped bool
}

func (r *fatalRecorder) Helper()                           {}
func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *fatalRecorder) Skip(...any)                       { r.skipped = true }
func (r *fatalRecorder) Skipf(string, ...any)              { r.skipped = true }
func (r *fatalRecorder) SkipNow()                          { r.skipped = true }

func TestAMissingServerFailsTheTestAndSaysHowToStartIt(t *testing.T) {
	t.Parallel()
	rec := &fatalRecorder{TB: t}
	got := lookup(rec, "STELLER_TEST_NO_SUCH_SERVER")
	assert.Empty(t, got)
	assert.False(t, rec.skipped, "a missing server must fail the test, not skip it")
	assert.Contains(t, rec.fatal, "STELLER_TEST_NO_SUCH_SERVER is not set")
	assert.Contains(t, rec.fatal, "make services-up")
}
