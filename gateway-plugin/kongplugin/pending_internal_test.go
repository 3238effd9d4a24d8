package kongplugin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/gateway-plugin/edge"
)

// A denied request's log phase can run before its access phase released the id (Kong runs
// log in a timer right after the exit); it must find nothing to log.
func TestTakeIgnoresAReservedButUndecidedRequest(t *testing.T) {
	t.Parallel()
	p := newPending(10, time.Minute)
	now := time.Now()
	require.True(t, p.reserve("req-1", now))

	_, ok := p.take("req-1")
	assert.False(t, ok, "an unfilled reservation was taken for logging")
	assert.False(t, p.reserve("req-1", now), "the reservation must stay until Access releases it")

	p.fill("req-1", &edge.Request{RequestID: "req-1"}, &edge.Outcome{Allowed: true})
	e, ok := p.take("req-1")
	require.True(t, ok)
	assert.Equal(t, "req-1", e.req.RequestID)
	_, ok = p.take("req-1")
	assert.False(t, ok, "taken twice")
}
