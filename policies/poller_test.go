package policies

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bundleServer serves one bundle with an ETag and honours If-None-Match, like the control
// plane will. A test changes what it serves between polls.
type bundleServer struct {
	mu       sync.Mutex
	status   int // forced status when non-zero
	body     []byte
	etag     string
	requests []http.Header
}

func (s *bundleServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Header.Clone())
	if s.status != 0 {
		http.Error(w, "boom", s.status)
		return
	}
	if s.etag != "" {
		w.Header().Set("ETag", s.etag)
		if r.Header.Get("If-None-Match") == s.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(s.body)
}

func (s *bundleServer) serve(status int, body []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body, s.etag = status, body, etag
}

func (s *bundleServer) last() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[len(s.requests)-1]
}

func setupPoller(t *testing.T, edit func(*PollerConfig)) (*bundleServer, *Engine, *Poller) {
	t.Helper()
	srv := &bundleServer{}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := newEngine(t, 16)
	cfg := PollerConfig{Engine: e, URL: ts.URL + "/bundle.tar.gz", Token: "tok", Logger: discard(), Interval: 10 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	p, err := NewPoller(cfg)
	require.NoError(t, err)
	return srv, e, p
}

func TestNewPollerValidatesConfig(t *testing.T) {
	t.Parallel()
	e := newEngine(t, -1)
	cases := []struct {
		name string
		cfg  PollerConfig
		want []string
	}{
		{"empty", PollerConfig{}, []string{"Engine is required", "Logger is required", "not an absolute"}},
		{"relative URL", PollerConfig{Engine: e, Logger: discard(), URL: "/bundle"}, []string{"not an absolute"}},
		{"bad scheme", PollerConfig{Engine: e, Logger: discard(), URL: "file:///b.tar.gz"}, []string{"not an absolute"}},
		{"negative", PollerConfig{Engine: e, Logger: discard(), URL: "http://127.0.0.1/b", Interval: -1}, []string{"negative"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewPoller(tc.cfg)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// TestPollerSequence walks one poller through what a control plane can answer: a new
// bundle, 304, server errors, garbage, a bundle that fails its tests, and a good one again.
func TestPollerSequence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, e, p := setupPoller(t, nil)
	v2 := bundleOf(t, DefaultSource(), "v2")

	// 200: loaded, with its ETag, and the token sent.
	srv.serve(0, v2, `"v2"`)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, "v2", e.Revision())
	assert.Equal(t, `"v2"`, e.ETag())
	assert.Empty(t, srv.last().Get("If-None-Match"))
	assert.Equal(t, "Bearer tok", srv.last().Get("Authorization"))

	// 304: the active ETag was sent and nothing changes.
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, `"v2"`, srv.last().Get("If-None-Match"))
	assert.Equal(t, "v2", e.Revision())

	failing := replaceIn(t, defaultFiles(t), edgeRegoPath, `"partner is suspended"`, `"suspended"`)
	for _, bad := range []struct {
		name   string
		status int
		body   []byte
		want   string
	}{
		{"server error", http.StatusInternalServerError, nil, "unexpected status 500"},
		{"not found", http.StatusNotFound, nil, "unexpected status 404"},
		{"garbage body", 0, []byte("<html>not a bundle</html>"), "policy bundle rejected"},
		{"failing Rego tests", 0, bundleOf(t, failing, "v3"), "Rego tests failed"},
	} {
		srv.serve(bad.status, bad.body, `"bad"`)
		err := p.Poll(ctx)
		require.ErrorContains(t, err, bad.want, bad.name)
		assert.Equal(t, "v2", e.Revision(), "%s: last good bundle kept", bad.name)
		assert.Equal(t, `"v2"`, e.ETag(), bad.name)
		assert.Contains(t, p.Stats().LastError, bad.want, bad.name)
	}

	// A good bundle again: loaded, and the error is cleared.
	srv.serve(0, bundleOf(t, DefaultSource(), "v4"), `"v4"`)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, "v4", e.Revision())

	s := p.Stats()
	assert.Equal(t, PollerStats{Polls: 7, Loaded: 2, NotModified: 1, Failures: 4, LastSuccess: s.LastSuccess}, s)
	assert.False(t, s.LastSuccess.IsZero())
	assert.Equal(t, uint64(2), e.Stats().BundleRejections)
}

func TestPollerCapsBodySize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, e, p := setupPoller(t, func(c *PollerConfig) { c.MaxBytes = 512 })
	big := bundleOf(t, DefaultSource(), "big")
	require.Greater(t, len(big), 512)

	srv.serve(0, big, `"big"`)
	require.ErrorContains(t, p.Poll(ctx), "limit")
	assert.Equal(t, DefaultRevision(), e.Revision())

	// Without Content-Length (chunked), the reader's cap catches it.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i < len(big); i += 100 {
			_, _ = w.Write(big[i:min(i+100, len(big))])
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(ts.Close)
	chunked, err := NewPoller(PollerConfig{Engine: e, URL: ts.URL, Logger: discard(), MaxBytes: 512})
	require.NoError(t, err)
	require.ErrorContains(t, chunked.Poll(ctx), "limit")
	assert.Equal(t, DefaultRevision(), e.Revision())
}

// TestPollerWithoutETag: a server that sends no ETag serves the same bytes every time; the
// engine recognises them and keeps its compiled set and warm cache.
func TestPollerWithoutETag(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, e, p := setupPoller(t, nil)
	srv.serve(0, bundleOf(t, DefaultSource(), "same"), "")
	require.NoError(t, p.Poll(ctx))
	_, err := e.DecideEdge(ctx, input())
	require.NoError(t, err)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, 1, e.CachedDecisions(), "same bytes: cache kept")
	assert.Equal(t, uint64(2), e.Stats().BundleLoads)
}

func TestPollerRunUntilCanceled(t *testing.T) {
	t.Parallel()
	srv, e, p := setupPoller(t, nil)
	srv.serve(0, bundleOf(t, DefaultSource(), "run"), `"run"`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	require.Eventually(t, func() bool { return e.Revision() == "run" }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return p.Stats().NotModified >= 2 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestConcurrentDecisionsAndReloads decides from many goroutines while bundles flip between
// two policies; run with -race. Every decision must match one of the two policies.
func TestConcurrentDecisionsAndReloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEngine(t, 8)
	admin := replaceIn(t, defaultFiles(t), edgeDataPath, `"role": "catalog:read"`, `"role": "catalog:admin"`)
	delete(admin, edgeTestPath)
	bundles := [][]byte{bundleOf(t, admin, "admin"), bundleOf(t, DefaultSource(), "default")}
	denied := Decision{Code: "forbidden_by_policy", Reason: "key lacks role catalog:admin required by route catalog.list"}

	// The loader flips bundles a fixed number of times while the deciders keep going.
	const loads = 6
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(stop)
		for i := range loads {
			_, err := e.LoadBundle(ctx, bytes.NewReader(bundles[i%2]))
			assert.NoError(t, err)
		}
	})
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := input(func(in *EdgeInput) { in.Roles = []string{"catalog:read", string(rune('a' + (g+i)%20))} })
				d, err := e.DecideEdge(ctx, in)
				if !assert.NoError(t, err) {
					return
				}
				if !d.Allow {
					assert.Equal(t, denied, d)
				}
				_ = e.Stats()
				_ = e.Active()
			}
		})
	}
	wg.Wait()
	s := e.Stats()
	assert.Positive(t, s.CacheHits)
	assert.Equal(t, s.Decisions, s.CacheHits+s.Evaluations)
	assert.Equal(t, uint64(1+loads), s.BundleLoads)
	assert.Equal(t, "default", e.Revision())
}
