package policies

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCacheSize is the number of edge decisions cached when Config.CacheSize is zero.
const DefaultCacheSize = 10_000

// ErrBundleRejected wraps every reason LoadBundle refuses a bundle; the active bundle is
// kept when it is returned.
var ErrBundleRejected = errors.New("policy bundle rejected")

// Config holds the Engine's dependencies and settings.
type Config struct {
	// Logger receives bundle activations and rejections. Required.
	Logger *slog.Logger
	// Clock stamps activations; time.Now when nil.
	Clock func() time.Time
	// CacheSize bounds the decision cache (entries). Zero means DefaultCacheSize; a
	// negative size disables caching.
	CacheSize int
	// Bundle is the OPA bundle (tar.gz) to start with; nil means the embedded default.
	// A bundle that fails to load makes New fail: there is no good policy to fall back on.
	Bundle io.Reader
	// TestTimeout bounds each Rego test run while a bundle is validated; 0 means 5s.
	TestTimeout time.Duration
}

// Engine evaluates Steller's policies. It holds one active compiled policy set (queries
// prepared once, and their decision cache) and replaces it atomically when a new bundle
// passes validation. It is safe for concurrent use.
type Engine struct {
	log   *slog.Logger
	clock func() time.Time
	opts  compileOptions

	active atomic.Pointer[policySet]
	// loadMu serializes bundle loads so activations happen in the order they finish.
	loadMu sync.Mutex

	decisions   atomic.Uint64
	evaluations atomic.Uint64
	cacheHits   atomic.Uint64
	errs        atomic.Uint64
	loads       atomic.Uint64
	rejections  atomic.Uint64
}

// Stats are the engine's counters since it was created.
type Stats struct {
	// Decisions counts DecideEdge calls.
	Decisions uint64
	// Evaluations counts Rego evaluations (decisions the cache did not answer).
	Evaluations uint64
	// CacheHits counts decisions answered from the cache.
	CacheHits uint64
	// Errors counts decisions that failed (and so were failed closed by the caller).
	Errors uint64
	// BundleLoads counts bundles activated, the initial one included.
	BundleLoads uint64
	// BundleRejections counts bundles refused by LoadBundle.
	BundleRejections uint64
}

// New builds an Engine and activates cfg.Bundle, or the embedded default policy.
func New(cfg Config) (*Engine, error) {
	if cfg.Logger == nil {
		return nil, errors.New("policies: Config.Logger is required")
	}
	e := &Engine{log: cfg.Logger, clock: cfg.Clock, opts: compileOptions{
		cacheSize:   cfg.CacheSize,
		testTimeout: cfg.TestTimeout,
	}}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.opts.cacheSize == 0 {
		e.opts.cacheSize = DefaultCacheSize
	}
	if e.opts.testTimeout <= 0 {
		e.opts.testTimeout = 5 * time.Second
	}
	src := cfg.Bundle
	if src == nil {
		raw, err := defaultBundle()
		if err != nil {
			return nil, fmt.Errorf("policies: embedded default: %w", err)
		}
		src = bytes.NewReader(raw)
	}
	if _, err := e.load(context.Background(), src, ""); err != nil {
		return nil, fmt.Errorf("policies: initial bundle: %w", err)
	}
	return e, nil
}

// DecideEdge decides an edge request. A decision cached for the same input under the
// active bundle is returned without evaluation. An error (wrapping ErrPolicy) means no
// decision could be made: the caller must deny the request (fail closed).
func (e *Engine) DecideEdge(ctx context.Context, in EdgeInput) (Decision, error) {
	e.decisions.Add(1)
	set := e.active.Load()
	if set.cache == nil {
		return e.evalEdge(ctx, set, &in)
	}
	// Keys of typical inputs fit this stack buffer, so building one allocates nothing.
	var scratch [192]byte
	key := appendKey(scratch[:0], &in, set.edgeFields)
	if d, ok := set.cache.get(key); ok {
		e.cacheHits.Add(1)
		return d, nil
	}
	d, err := e.evalEdge(ctx, set, &in)
	if err != nil {
		return Decision{}, err
	}
	set.cache.put(key, d)
	return d, nil
}

func (e *Engine) evalEdge(ctx context.Context, set *policySet, in *EdgeInput) (Decision, error) {
	e.evaluations.Add(1)
	d, err := set.evalEdge(ctx, in)
	if err != nil {
		e.errs.Add(1)
		return Decision{}, err
	}
	return d, nil
}

// LoadBundle reads an OPA bundle (tar.gz), runs its Rego tests, compiles it and prepares
// its queries, and only then makes it the active policy with a fresh decision cache. On
// any failure it returns an error wrapping ErrBundleRejected and the active bundle stays.
// Loading the very bytes of the active bundle again changes nothing and keeps the cache.
func (e *Engine) LoadBundle(ctx context.Context, r io.Reader) (BundleInfo, error) {
	return e.load(ctx, r, "")
}

func (e *Engine) load(ctx context.Context, r io.Reader, etag string) (BundleInfo, error) {
	e.loadMu.Lock()
	defer e.loadMu.Unlock()
	raw, err := io.ReadAll(r)
	if err != nil {
		e.rejections.Add(1)
		e.log.Error("policy bundle rejected", "etag", etag, "error", err)
		return BundleInfo{}, fmt.Errorf("%w: read: %w", ErrBundleRejected, err)
	}
	digest := sha256.Sum256(raw)
	if cur := e.active.Load(); cur != nil && cur.digest == digest {
		// Same bytes as the active bundle (a server that sends no ETag, or a repeated
		// load): keep the compiled set and its warm cache, only note the new ETag.
		if cur.info.ETag != etag {
			next := *cur
			next.info.ETag = etag
			e.active.Store(&next)
		}
		return e.active.Load().info, nil
	}
	set, err := e.build(ctx, bytes.NewReader(raw))
	if err != nil {
		e.rejections.Add(1)
		e.log.Error("policy bundle rejected", "etag", etag, "error", err)
		return BundleInfo{}, fmt.Errorf("%w: %w", ErrBundleRejected, err)
	}
	set.digest = digest
	set.info.ETag = etag
	set.info.ActivatedAt = e.clock()
	e.active.Store(set)
	e.loads.Add(1)
	e.log.Info("policy bundle activated", "revision", set.info.Revision, "etag", etag,
		"rego_tests", set.info.Tests, "decision_cache", set.cache != nil)
	return set.info, nil
}

func (e *Engine) build(ctx context.Context, r io.Reader) (*policySet, error) {
	b, err := readBundle(r)
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	return compile(ctx, b, e.opts)
}

// Active describes the active bundle: its revision, ETag and activation time.
func (e *Engine) Active() BundleInfo {
	return e.active.Load().info
}

// Revision returns the active bundle's revision.
func (e *Engine) Revision() string {
	return e.active.Load().info.Revision
}

// ETag returns the ETag the active bundle was served with (empty if it was not polled).
func (e *Engine) ETag() string {
	return e.active.Load().info.ETag
}

// CachedDecisions returns how many decisions the active bundle's cache holds.
func (e *Engine) CachedDecisions() int {
	if c := e.active.Load().cache; c != nil {
		return c.len()
	}
	return 0
}

// Stats returns the engine's counters. Each counter is read atomically; together they
// are a near-consistent snapshot, good enough for metrics.
func (e *Engine) Stats() Stats {
	return Stats{
		Decisions:        e.decisions.Load(),
		Evaluations:      e.evaluations.Load(),
		CacheHits:        e.cacheHits.Load(),
		Errors:           e.errs.Load(),
		BundleLoads:      e.loads.Load(),
		BundleRejections: e.rejections.Load(),
	}
}

// ValidateBundle checks an OPA bundle the way LoadBundle does (read, Rego tests, compile,
// prepare, probe) without activating it, so the control plane can refuse a policy version
// before it serves it. It returns the bundle's revision and test count.
func ValidateBundle(ctx context.Context, r io.Reader) (BundleInfo, error) {
	b, err := readBundle(r)
	if err != nil {
		return BundleInfo{}, fmt.Errorf("%w: read bundle: %w", ErrBundleRejected, err)
	}
	set, err := compile(ctx, b, compileOptions{testTimeout: 5 * time.Second})
	if err != nil {
		return BundleInfo{}, fmt.Errorf("%w: %w", ErrBundleRejected, err)
	}
	return set.info, nil
}
