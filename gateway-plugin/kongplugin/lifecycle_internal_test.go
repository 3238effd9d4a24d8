package kongplugin

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/keyformat"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/policies"
)

// noKeys is a key source that knows no key.
type noKeys struct{}

func (noKeys) Lookup(keyformat.Hash) (*edgesync.Record, bool) { return nil, false }

// allowAll is an authorizer that allows everything.
type allowAll struct{}

func (allowAll) DecideEdge(context.Context, policies.EdgeInput) (policies.Decision, error) {
	return policies.Decision{Allow: true}, nil
}

// recordingEmitter records when it is closed; close blocks until unblock is closed, when
// set.
type recordingEmitter struct {
	requestlog.Memory
	lc      *lifecycle
	unblock chan struct{}
}

func (r *recordingEmitter) Close(context.Context) error {
	r.lc.record("emitter closing")
	if r.unblock != nil {
		<-r.unblock
	}
	r.lc.record("emitter closed")
	return nil
}

// lifecycle is a Plugin whose release checks run only when a test calls them
// (ReleaseAfter is an hour), with a record of builds and closes in order.
type lifecycle struct {
	p     *Plugin
	clock time.Time

	mu      sync.Mutex
	events  []string
	unblock chan struct{} // set before a build: that edge's emitter close waits on it
}

func (lc *lifecycle) record(ev string) {
	lc.mu.Lock()
	lc.events = append(lc.events, ev)
	lc.mu.Unlock()
}

func (lc *lifecycle) Events() []string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return append([]string(nil), lc.events...)
}

func (lc *lifecycle) now() time.Time {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.clock
}

func newLifecycle(t *testing.T) *lifecycle {
	t.Helper()
	lc := &lifecycle{clock: time.Now()}
	p, err := NewPlugin(Deps{
		Logger:       slog.New(slog.DiscardHandler),
		Clock:        lc.now,
		ReleaseAfter: time.Hour,
		NewKeys: func(context.Context, *Config) (edge.KeyLookup, error) {
			lc.record("build")
			return noKeys{}, nil
		},
		NewAuthorizer: func(context.Context, *Config) (edge.Authorizer, error) { return allowAll{}, nil },
		NewEmitter: func(*Config) (requestlog.Emitter, error) {
			lc.mu.Lock()
			defer lc.mu.Unlock()
			return &recordingEmitter{lc: lc, unblock: lc.unblock}, nil
		},
	})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	lc.p = p
	return lc
}

func (lc *lifecycle) config(keysFile string) *Config {
	c := lc.p.New().(*Config)
	c.SandboxUpstreamURL, c.LiveUpstreamURL, c.KeysFile = "http://sandbox:8081", "https://live", keysFile
	c.EdgeSigningSecrets = []string{edgetest.SigningSecret}
	return c
}

// gone does what the runtime does once c is unreachable: drop c's reference to its edge.
func (lc *lifecycle) gone(c *Config) {
	lc.p.unbind(c.bound.Load())
}

func isClosed(e *sharedEdge) bool {
	select {
	case <-e.done:
		return e.ctx.Err() != nil
	default:
		return false
	}
}

func TestReleaseWaitsForTheRunningPhase(t *testing.T) {
	t.Parallel()
	lc := newLifecycle(t)
	c := lc.config("a")
	e, err := lc.p.enter(c) // a phase begins
	require.NoError(t, err)
	lc.gone(c) // go-pdk dropped the instance while the phase runs

	assert.Equal(t, Stats{Edges: 1, Unused: 1}, lc.p.Stats())
	lc.p.releaseIfUnused(e)
	assert.False(t, isClosed(e), "closed under a running phase")

	e.leave()
	lc.p.releaseIfUnused(e)
	assert.True(t, isClosed(e))
	assert.Equal(t, Stats{Released: 1}, lc.p.Stats())
	assert.Equal(t, []string{"build", "emitter closing", "emitter closed"}, lc.Events())
	runtime.KeepAlive(c) // its real cleanup, later, finds the binding released already
}

func TestReleaseWaitsForTheLogPhase(t *testing.T) {
	t.Parallel()
	lc := newLifecycle(t)
	c := lc.config("a")
	e, err := lc.p.enter(c)
	require.NoError(t, err)
	// An allowed request's access phase ends; its log phase is still to come.
	require.True(t, e.pending.reserve("req-1", lc.now()))
	e.pending.fill("req-1", &edge.Request{RequestID: "req-1"}, &edge.Outcome{Allowed: true})
	e.leave()
	lc.gone(c)

	lc.p.releaseIfUnused(e)
	assert.False(t, isClosed(e), "closed while a request awaits its log phase")

	// The log phase comes, on a Config that go-pdk started again with the same settings.
	again := lc.config("a")
	e2, err := lc.p.enter(again)
	require.NoError(t, err)
	require.Same(t, e, e2, "the same settings find the same edge")
	_, ok := e2.pending.take("req-1")
	require.True(t, ok)
	e2.leave()
	lc.gone(again)

	lc.p.releaseIfUnused(e)
	assert.True(t, isClosed(e))
	assert.Equal(t, []string{"build", "emitter closing", "emitter closed"}, lc.Events(), "built once")
	runtime.KeepAlive(c)
	runtime.KeepAlive(again)
}

func TestReleaseStopsWaitingForALogPhaseThatNeverCame(t *testing.T) {
	t.Parallel()
	lc := newLifecycle(t)
	c := lc.config("a")
	e, err := lc.p.enter(c)
	require.NoError(t, err)
	require.True(t, e.pending.reserve("req-1", lc.now()))
	e.pending.fill("req-1", &edge.Request{RequestID: "req-1"}, &edge.Outcome{Allowed: true})
	e.leave()
	lc.gone(c)
	lc.p.releaseIfUnused(e)
	require.False(t, isClosed(e))

	lc.mu.Lock()
	lc.clock = lc.clock.Add(6 * time.Minute) // past the pending table's maximum age
	lc.mu.Unlock()
	lc.p.releaseIfUnused(e)
	assert.True(t, isClosed(e))
	_, dropped := e.pending.stats()
	assert.Equal(t, uint64(1), dropped, "the unclaimed request is counted as dropped")
	runtime.KeepAlive(c)
}

func TestAConfigWithTheSameSettingsKeepsTheEdge(t *testing.T) {
	t.Parallel()
	lc := newLifecycle(t)
	first := lc.config("a")
	e, err := lc.p.enter(first)
	require.NoError(t, err)
	e.leave()
	other := lc.config("b")
	eb, err := lc.p.enter(other)
	require.NoError(t, err)
	eb.leave()
	lc.gone(first)
	assert.Equal(t, Stats{Edges: 2, Unused: 1}, lc.p.Stats())

	// go-pdk starts the instance again before the release check.
	restarted := lc.config("a")
	e2, err := lc.p.enter(restarted)
	require.NoError(t, err)
	e2.leave()
	require.Same(t, e, e2)
	lc.p.releaseIfUnused(e)
	assert.False(t, isClosed(e))
	assert.Equal(t, Stats{Edges: 2}, lc.p.Stats())
	assert.Equal(t, []string{"build", "build"}, lc.Events(), "one build per settings")
	runtime.KeepAlive(first)
	runtime.KeepAlive(other)
	runtime.KeepAlive(restarted)
}

// A Config that arrives while its settings' edge closes waits for the close (the emitter's
// spool is still locked), then builds a fresh edge.
func TestABindDuringTheCloseWaitsForIt(t *testing.T) {
	t.Parallel()
	lc := newLifecycle(t)
	unblock := make(chan struct{})
	lc.unblock = unblock
	c := lc.config("a")
	e, err := lc.p.enter(c)
	require.NoError(t, err)
	e.leave()
	lc.gone(c)
	lc.unblock = nil

	released := make(chan struct{})
	go func() {
		lc.p.releaseIfUnused(e)
		close(released)
	}()
	require.Eventually(t, func() bool { return len(lc.Events()) == 2 }, 10*time.Second, time.Millisecond, "the emitter's close began")

	bound := make(chan *sharedEdge)
	go func() {
		again := lc.config("a")
		e2, err := lc.p.enter(again)
		assert.NoError(t, err)
		e2.leave()
		bound <- e2
		runtime.KeepAlive(again)
	}()
	require.Eventually(t, waitingInBind, 10*time.Second, time.Millisecond, "the bind waits for the close")
	assert.Equal(t, []string{"build", "emitter closing"}, lc.Events(), "no second build while the first edge closes")
	close(unblock)
	e2 := <-bound
	<-released
	assert.NotSame(t, e, e2)
	assert.True(t, isClosed(e))
	assert.Equal(t, []string{"build", "emitter closing", "emitter closed", "build"}, lc.Events())
	runtime.KeepAlive(c)
}

// waitingInBind reports whether a goroutine is blocked on a channel inside Plugin.bind.
func waitingInBind() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "[chan receive") && strings.Contains(g, "kongplugin.(*Plugin).bind(") {
			return true
		}
	}
	return false
}

func TestCloseClosesEveryEdge(t *testing.T) {
	t.Parallel()
	lc := newLifecycle(t)
	a, b := lc.config("a"), lc.config("b")
	ea, err := lc.p.enter(a)
	require.NoError(t, err)
	ea.leave()
	eb, err := lc.p.enter(b)
	require.NoError(t, err)
	eb.leave()

	lc.p.Close()
	assert.True(t, isClosed(ea))
	assert.True(t, isClosed(eb))
	assert.Equal(t, 0, lc.p.Stats().Edges)
	_, err = lc.p.enter(lc.config("c"))
	assert.ErrorIs(t, err, errClosed)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}
