package kongplugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/problem"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edge/edgetest"
	"github.com/steller/platform/gateway-plugin/kongplugin"
	"github.com/steller/platform/policies"
)

// controlPlane is a fake control plane for the edge sync client and the policy poller: it
// serves an empty snapshot, holds every change-feed request open until the client goes
// away (a long-poll with no changes), and answers bundle polls with 304. It counts the
// long-polls in progress, the figure the review found growing with each failed build.
type controlPlane struct {
	*httptest.Server
	longPolls atomic.Int64
	requests  atomic.Int64
}

func newControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	cp := &controlPlane{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+edgewire.SnapshotPath, func(w http.ResponseWriter, r *http.Request) {
		cp.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(edgewire.Snapshot{Version: 1, GeneratedAt: time.Now()})
	})
	mux.HandleFunc("GET "+edgewire.ChangesPath, func(w http.ResponseWriter, r *http.Request) {
		cp.requests.Add(1)
		cp.longPolls.Add(1)
		defer cp.longPolls.Add(-1)
		<-r.Context().Done()
	})
	mux.HandleFunc("GET /bundle", func(w http.ResponseWriter, r *http.Request) {
		cp.requests.Add(1)
		w.WriteHeader(http.StatusNotModified)
	})
	cp.Server = httptest.NewServer(mux)
	t.Cleanup(cp.Close)
	return cp
}

// fakeClock is a clock the test moves by hand, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// waitFor polls cond on the calling goroutine until it holds or timeout passes, and
// reports whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// goroutineDump is the process's goroutines grouped by stack, for a failure message.
func goroutineDump() string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

// TestFailedBuildsLeaveNoGoroutines builds an edge the way the binary does (edge sync
// client, policy poller, Kafka emitter) for a configuration whose spool directory cannot
// be created, five times over (one build per retry period), and counts the process's
// goroutines and the control plane's long-polls afterwards: both must be back where they
// started. No t.Parallel: it counts every goroutine of the test binary, and sequential
// tests run while the parallel ones wait.
func TestFailedBuildsLeaveNoGoroutines(t *testing.T) {
	cp := newControlPlane(t)
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	clock := &fakeClock{now: time.Now()}
	log := slog.New(slog.DiscardHandler)
	p, err := kongplugin.NewPlugin(kongplugin.Deps{Logger: log, Clock: clock.Now, NewEmitter: kongplugin.KafkaEmitter(log)})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	cfg := p.New().(*kongplugin.Config)
	cfg.SandboxUpstreamURL, cfg.LiveUpstreamURL = sandboxURL, liveURL
	cfg.EdgeSigningSecrets = []string{edgetest.SigningSecret}
	cfg.ControlPlaneURL, cfg.EdgeToken, cfg.PolicyBundleURL = cp.URL, "tok_test", cp.URL+"/bundle"
	cfg.KafkaBrokers = []string{"127.0.0.1:9"}
	cfg.SpoolDir = filepath.Join(notADir, "spool") // under a regular file: mkdir fails, even as root
	require.NoError(t, cfg.Validate(), "the config itself is valid; only its spool is unusable")

	before := runtime.NumGoroutine()
	const builds = 5
	for i := range builds {
		clock.Advance(11 * time.Second) // past the retry delay, so this request builds again
		// A subtest per request: its cleanup closes the fake Kong's pipe, whose goroutine
		// would otherwise count until the test ends.
		t.Run("build", func(t *testing.T) {
			kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", nil)
			cfg.Access(kong.phase())
			require.Equal(t, http.StatusInternalServerError, kong.exitStatus, "build %d", i+1)
			var doc problem.Document
			require.NoError(t, json.Unmarshal(kong.exitBody, &doc))
			assert.Equal(t, edge.CodeInternal, doc.Code)
		})
	}

	// Polled on this goroutine: assert.Eventually's own goroutine would count.
	if !waitFor(10*time.Second, func() bool { return cp.longPolls.Load() == 0 && runtime.NumGoroutine() <= before }) {
		t.Fatalf("after %d failed builds: %d long-polls open, %d goroutines (were %d):\n%s",
			builds, cp.longPolls.Load(), runtime.NumGoroutine(), before, goroutineDump())
	}
}

// gcSetup is a Plugin that releases unused edges a millisecond after their last Config
// goes, recording each build's context and each emitter's close by keys file.
type gcSetup struct {
	fx     *edgetest.Fixture
	plugin *kongplugin.Plugin

	mu     sync.Mutex
	builds map[string][]context.Context
	closed map[string]int
}

// closeRecorder is an emitter that counts its Close calls into its setup.
type closeRecorder struct {
	requestlog.Memory
	s    *gcSetup
	name string
}

func (r *closeRecorder) Close(context.Context) error {
	r.s.mu.Lock()
	r.s.closed[r.name]++
	r.s.mu.Unlock()
	return nil
}

func newGCSetup(t *testing.T) *gcSetup {
	t.Helper()
	s := &gcSetup{fx: edgetest.New(edgetest.FixedNow()), builds: map[string][]context.Context{}, closed: map[string]int{}}
	engine, err := policies.New(policies.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	s.plugin, err = kongplugin.NewPlugin(kongplugin.Deps{
		Logger:       slog.New(slog.DiscardHandler),
		Clock:        s.fx.Clock(),
		ReleaseAfter: time.Millisecond,
		NewKeys: func(ctx context.Context, c *kongplugin.Config) (edge.KeyLookup, error) {
			s.mu.Lock()
			s.builds[c.KeysFile] = append(s.builds[c.KeysFile], ctx)
			s.mu.Unlock()
			return s.fx.Table, nil
		},
		NewAuthorizer: func(context.Context, *kongplugin.Config) (edge.Authorizer, error) { return engine, nil },
		NewEmitter: func(c *kongplugin.Config) (requestlog.Emitter, error) {
			return &closeRecorder{s: s, name: c.KeysFile}, nil
		},
	})
	require.NoError(t, err)
	t.Cleanup(s.plugin.Close)
	return s
}

// instance is what go-pdk's StartInstance does: a new Config decoded from the settings.
func (s *gcSetup) instance(keysFile string) *kongplugin.Config {
	c := s.plugin.New().(*kongplugin.Config)
	c.SandboxUpstreamURL, c.LiveUpstreamURL, c.KeysFile = sandboxURL, liveURL, keysFile
	c.EdgeSigningSecrets = []string{edgetest.SigningSecret}
	return c
}

// serve runs one allowed request, access and log, on cfg.
func (s *gcSetup) serve(t *testing.T, cfg *kongplugin.Config) {
	t.Helper()
	kong := newFakeKong(t, "GET", "/v1/catalog", "10.10.10.1", http.Header{"Authorization": {"Bearer " + s.fx.Secret(edgetest.KeyTestFull)}})
	cfg.Access(kong.phase())
	cfg.Log(kong.phase())
	require.Zero(t, kong.exitStatus, "allowed")
}

// serveAndDrop starts an instance, serves a request on it and lets it go, as go-pdk lets
// a Config go on CloseInstance: nothing refers to it once this returns.
func (s *gcSetup) serveAndDrop(t *testing.T, keysFile string) {
	t.Helper()
	s.serve(t, s.instance(keysFile))
}

func (s *gcSetup) buildsOf(keysFile string) []context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]context.Context(nil), s.builds[keysFile]...)
}

func (s *gcSetup) closesOf(keysFile string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed[keysFile]
}

// released collects garbage until the edge built for keysFile has been closed.
func (s *gcSetup) released(keysFile string, build int) bool {
	return waitFor(10*time.Second, func() bool {
		runtime.GC()
		return s.buildsOf(keysFile)[build].Err() != nil
	})
}

// TestReplacedConfigIsReleased replaces a plugin instance's config as Kong does (a new
// instance with the new settings, the old one dropped) and waits for the old settings'
// edge to be closed, its emitter with it, while the live instance's edge stays open.
func TestReplacedConfigIsReleased(t *testing.T) {
	t.Parallel()
	s := newGCSetup(t)
	s.serveAndDrop(t, "v1")
	v2 := s.instance("v2")
	s.serve(t, v2)

	require.True(t, s.released("v1", 0), "the replaced config's edge was never closed: %+v", s.plugin.Stats())
	assert.Equal(t, 1, s.closesOf("v1"), "its emitter is closed")
	assert.NoError(t, s.buildsOf("v2")[0].Err(), "the live config's edge stays open")
	assert.Zero(t, s.closesOf("v2"))
	assert.Equal(t, kongplugin.Stats{Edges: 1, Released: 1}, s.plugin.Stats())

	// The old settings coming back get an edge of their own.
	s.serveAndDrop(t, "v1")
	require.Len(t, s.buildsOf("v1"), 2)
	require.True(t, s.released("v1", 1))
	runtime.KeepAlive(v2)
}

// TestEqualSettingsShareOneEdge runs two instances with the same settings: one build, and
// the edge is closed only once both are gone.
func TestEqualSettingsShareOneEdge(t *testing.T) {
	t.Parallel()
	s := newGCSetup(t)
	for range 2 {
		s.serveAndDrop(t, "same")
	}
	require.Len(t, s.buildsOf("same"), 1, "one build for equal settings")
	require.True(t, s.released("same", 0))
	assert.Equal(t, 1, s.closesOf("same"))
}
