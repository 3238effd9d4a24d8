package kongplugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/policies"
)

// Deps are the plugin server's dependencies; the zero value of each optional one picks the
// production default.
type Deps struct {
	// Logger receives plugin errors (required). Kong copies the plugin server's stderr into
	// its error log.
	Logger *slog.Logger
	// Clock gives the time; time.Now when nil.
	Clock func() time.Time
	// NewEmitter builds the request-log emitter for a configuration; nil means events are
	// discarded. The binary uses the Kafka emitter (kafkaEmitter). An emitter with a
	// Close(context.Context) error method is closed when its edge is.
	NewEmitter func(*Config) (requestlog.Emitter, error)
	// NewKeys builds the key source for a configuration; nil means the edge sync client
	// (control_plane_url) or the static file source (keys_file). Its context ends when the
	// edge is closed or its build fails; goroutines it starts must end with it.
	NewKeys func(context.Context, *Config) (edge.KeyLookup, error)
	// NewAuthorizer builds the authorizer for a configuration; nil means the policy engine
	// with the embedded default, hot-reloading policy_bundle_url when set. Its context is
	// the edge's, as for NewKeys.
	NewAuthorizer func(context.Context, *Config) (edge.Authorizer, error)
	// MaxPending bounds the requests waiting for their log phase; zero means 100000.
	MaxPending int
	// ReleaseAfter is how long an edge that no Config uses any more stays open before it is
	// closed, so that a Config go-pdk starts again with the same settings (it does after
	// expiring an instance) finds it; zero means DefaultReleaseAfter.
	ReleaseAfter time.Duration
}

// Lifecycle defaults.
const (
	// DefaultReleaseAfter is the default of Deps.ReleaseAfter.
	DefaultReleaseAfter = 10 * time.Second
	// RetryAfter is how long a configuration whose edge could not be built is answered
	// with a 500 before the next request tries to build it again.
	RetryAfter = 10 * time.Second
	// closeTimeout bounds how long closing an edge waits for its emitter to hand its
	// queued events to Kafka or the spool.
	closeTimeout = 10 * time.Second
)

// Plugin is the plugin server's state: one shared edge per distinct configuration, so that
// plugin instances with equal configs share a core and its key sync, and instances with
// different configs never see each other's (Kong/kong#8370, #5586). An edge lives while a
// Config value uses it (see lifecycle.go).
type Plugin struct {
	deps   Deps
	ctx    context.Context // parent of every edge's context; ends on Close
	cancel context.CancelFunc

	mu       sync.Mutex
	edges    map[string]*sharedEdge // by Config.key: built, in use or waiting for release
	failed   map[string]failedBuild // by Config.key: builds that failed, until their retry
	released uint64                 // edges closed because no Config used them
	closed   bool
}

// failedBuild is why a configuration's edge could not be built, and when to try again. It
// holds no resources: a failed build has closed everything it opened.
type failedBuild struct {
	err     error
	retryAt time.Time
}

// errClosed answers phases that arrive after Close.
var errClosed = errors.New("kongplugin: plugin closed")

// NewPlugin validates deps and returns a Plugin. Background work (key sync, policy
// polling) starts per configuration on its first request, once its edge is built, and
// stops when the edge is released or on Close.
func NewPlugin(deps Deps) (*Plugin, error) {
	if deps.Logger == nil {
		return nil, errors.New("kongplugin: Deps.Logger is required")
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.MaxPending <= 0 {
		deps.MaxPending = 100_000
	}
	if deps.ReleaseAfter <= 0 {
		deps.ReleaseAfter = DefaultReleaseAfter
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Plugin{deps: deps, ctx: ctx, cancel: cancel, edges: map[string]*sharedEdge{}, failed: map[string]failedBuild{}}, nil
}

// New is the go-pdk constructor: a fresh Config bound to this Plugin. go-pdk calls it for
// every plugin instance (and for -dump), so it does no work.
func (p *Plugin) New() any { return &Config{plugin: p} }

// defaultPlugin backs the package-level New used by the steller-edge binary.
var defaultPlugin = sync.OnceValue(func() *Plugin {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("plugin", Name)
	p, _ := NewPlugin(Deps{Logger: log, NewEmitter: kafkaEmitter(log)})
	return p
})

// New is the go-pdk constructor of the steller-edge binary: a Config bound to the process's
// Plugin (logging JSON to stderr, request-log events to Kafka through analytics/emitter).
func New() any { return defaultPlugin().New() }

// buildLocked builds the edge of c's configuration and starts its background work, unless
// a build failed less than RetryAfter ago. p.mu is held.
func (p *Plugin) buildLocked(c *Config) (*sharedEdge, error) {
	now := p.deps.Clock()
	if f, ok := p.failed[c.key]; ok && now.Before(f.retryAt) {
		return nil, f.err
	}
	for key, f := range p.failed {
		if !now.Before(f.retryAt) {
			delete(p.failed, key)
		}
	}
	e, err := p.build(c)
	if err != nil {
		p.deps.Logger.Error("steller-edge: configuration unusable; denying its requests", "config", c.key[:12], "err", err, "retry_in", RetryAfter.String())
		p.failed[c.key] = failedBuild{err: err, retryAt: now.Add(RetryAfter)}
		return nil, err
	}
	p.edges[c.key] = e
	e.start()
	return e, nil
}

// build builds an edge without starting its background work. On failure it has closed
// whatever it opened, so a failed build leaves nothing running.
func (p *Plugin) build(c *Config) (_ *sharedEdge, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := p.newEdge(c)
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	e.sandbox.host, e.sandbox.port, _ = target(c.SandboxUpstreamURL)
	e.live.host, e.live.port, _ = target(c.LiveUpstreamURL)
	signer, err := edgesign.NewSigner(c.signingSecrets())
	if err != nil {
		return nil, fmt.Errorf("edge_signing_secrets: %w", err)
	}
	keys, err := p.keys(e, c)
	if err != nil {
		return nil, fmt.Errorf("key source: %w", err)
	}
	authz, err := p.authorizer(e, c)
	if err != nil {
		return nil, fmt.Errorf("authorizer: %w", err)
	}
	if e.emitter, err = p.emitter(e, c); err != nil {
		return nil, fmt.Errorf("emitter: %w", err)
	}
	e.core, err = edge.New(edge.Config{
		Keys: keys, Authorizer: authz, SandboxUpstream: c.SandboxUpstreamURL, LiveUpstream: c.LiveUpstreamURL,
		Clock: p.deps.Clock, Logger: e.log, Signer: signer,
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// keys builds the key source; its background sync is added to e's work, started only once
// the whole edge is built.
func (p *Plugin) keys(e *sharedEdge, c *Config) (edge.KeyLookup, error) {
	if p.deps.NewKeys != nil {
		return p.deps.NewKeys(e.ctx, c)
	}
	if c.ControlPlaneURL != "" {
		client, err := edgesync.NewClient(edgesync.ClientConfig{
			BaseURL: c.ControlPlaneURL, Token: c.edgeToken(), SnapshotPath: c.SnapshotPath, Logger: e.log,
			HTTPClient: e.httpClient(),
		})
		if err != nil {
			return nil, err
		}
		e.runs = append(e.runs, client.Run)
		return client, nil
	}
	src, err := edgesync.NewFileSource(edgesync.FileConfig{Path: c.KeysFile, Logger: e.log})
	if err != nil {
		return nil, err
	}
	e.runs = append(e.runs, src.Run)
	return src, nil
}

// authorizer builds the policy engine and, with policy_bundle_url, its poller, added to
// e's work like the key sync.
func (p *Plugin) authorizer(e *sharedEdge, c *Config) (edge.Authorizer, error) {
	if p.deps.NewAuthorizer != nil {
		return p.deps.NewAuthorizer(e.ctx, c)
	}
	engine, err := policies.New(policies.Config{Logger: e.log, Clock: p.deps.Clock})
	if err != nil {
		return nil, err
	}
	if c.PolicyBundleURL != "" {
		poller, err := policies.NewPoller(policies.PollerConfig{
			Engine: engine, URL: c.PolicyBundleURL, Token: c.edgeToken(), Logger: e.log, Clock: p.deps.Clock,
			Client: e.httpClient(),
		})
		if err != nil {
			return nil, err
		}
		e.runs = append(e.runs, poller.Run)
	}
	return engine, nil
}

// emitter builds the request-log emitter and arranges for it to be closed with e.
func (p *Plugin) emitter(e *sharedEdge, c *Config) (requestlog.Emitter, error) {
	if p.deps.NewEmitter == nil {
		return requestlog.Nop{}, nil
	}
	em, err := p.deps.NewEmitter(c)
	if err != nil {
		return nil, err
	}
	if closer, ok := em.(interface{ Close(context.Context) error }); ok {
		e.closers = append(e.closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			defer cancel()
			if err := closer.Close(ctx); err != nil {
				e.log.Warn("steller-edge: request-log emitter closed with losses", "err", err)
			}
		})
	}
	return em, nil
}

// httpClient is the edge's HTTP client for the control plane, with a transport of its own
// whose idle connections are closed with the edge.
func (e *sharedEdge) httpClient() *http.Client {
	if e.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		e.http = &http.Client{Transport: tr}
		e.closers = append(e.closers, tr.CloseIdleConnections)
	}
	return e.http
}

// PendingStats reports, over all configurations, how many allowed requests wait for their
// log phase and how many were dropped unclaimed (their log phase never came in time).
func (p *Plugin) PendingStats() (inFlight int, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.edges {
		n, d := e.pending.stats()
		inFlight += n
		dropped += d
	}
	return inFlight, dropped
}
