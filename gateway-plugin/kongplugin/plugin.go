package kongplugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// discarded. The binary uses the Kafka emitter (kafkaEmitter).
	NewEmitter func(*Config) (requestlog.Emitter, error)
	// NewKeys builds the key source for a configuration; nil means the edge sync client
	// (control_plane_url) or the static file source (keys_file).
	NewKeys func(context.Context, *Config) (edge.KeyLookup, error)
	// NewAuthorizer builds the authorizer for a configuration; nil means the policy engine
	// with the embedded default, hot-reloading policy_bundle_url when set.
	NewAuthorizer func(context.Context, *Config) (edge.Authorizer, error)
	// MaxPending bounds the requests waiting for their log phase; zero means 100000.
	MaxPending int
}

// Plugin is the plugin server's state: one shared edge per distinct configuration, so that
// plugin instances with equal configs share a core and its key sync, and instances with
// different configs never see each other's (Kong/kong#8370, #5586).
type Plugin struct {
	deps   Deps
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	edges  map[string]*sharedEdge
}

// sharedEdge is the edge built for one configuration.
type sharedEdge struct {
	core    *edge.Core
	emitter requestlog.Emitter
	pending *pending
	sandbox struct {
		host string
		port int
	}
	live struct {
		host string
		port int
	}
	err     error     // why the edge could not be built
	retryAt time.Time // when to try building again after err
}

// NewPlugin validates deps and returns a Plugin. Background work (key sync, policy
// polling) starts per configuration on its first request and stops on Close.
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
	ctx, cancel := context.WithCancel(context.Background())
	return &Plugin{deps: deps, ctx: ctx, cancel: cancel, edges: map[string]*sharedEdge{}}, nil
}

// New is the go-pdk constructor: a fresh Config bound to this Plugin. go-pdk calls it for
// every plugin instance (and for -dump), so it does no work.
func (p *Plugin) New() any { return &Config{plugin: p} }

// Close stops the background work of every configuration.
func (p *Plugin) Close() { p.cancel() }

// defaultPlugin backs the package-level New used by the steller-edge binary.
var defaultPlugin = sync.OnceValue(func() *Plugin {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("plugin", Name)
	p, _ := NewPlugin(Deps{Logger: log, NewEmitter: kafkaEmitter(log)})
	return p
})

// New is the go-pdk constructor of the steller-edge binary: a Config bound to the process's
// Plugin (logging JSON to stderr, request-log events to Kafka through analytics/emitter).
func New() any { return defaultPlugin().New() }

// edgeFor returns the shared edge of a configuration, building it on first use.
func (p *Plugin) edgeFor(c *Config) (*sharedEdge, error) {
	if e := c.edge.Load(); e != nil {
		return e, nil
	}
	c.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.edges[c.key]; ok && (e.err == nil || p.deps.Clock().Before(e.retryAt)) {
		if e.err == nil {
			c.edge.Store(e)
		}
		return e, e.err
	}
	e := p.build(c)
	if e.err != nil {
		p.deps.Logger.Error("steller-edge: configuration unusable; denying its requests", "err", e.err)
		e.retryAt = p.deps.Clock().Add(10 * time.Second)
	}
	p.edges[c.key] = e
	if e.err == nil {
		c.edge.Store(e)
	}
	return e, e.err
}

func (p *Plugin) build(c *Config) *sharedEdge {
	e := &sharedEdge{}
	if err := c.Validate(); err != nil {
		e.err = err
		return e
	}
	e.sandbox.host, e.sandbox.port, _ = target(c.SandboxUpstreamURL)
	e.live.host, e.live.port, _ = target(c.LiveUpstreamURL)
	signer, err := edgesign.NewSigner(c.signingSecrets())
	if err != nil {
		e.err = fmt.Errorf("edge_signing_secrets: %w", err)
		return e
	}
	log := p.deps.Logger.With("config", c.key[:12])
	keys, err := p.keys(c, log)
	if err != nil {
		e.err = fmt.Errorf("key source: %w", err)
		return e
	}
	authz, err := p.authorizer(c, log)
	if err != nil {
		e.err = fmt.Errorf("authorizer: %w", err)
		return e
	}
	e.emitter = requestlog.Nop{}
	if p.deps.NewEmitter != nil {
		if e.emitter, err = p.deps.NewEmitter(c); err != nil {
			e.err = fmt.Errorf("emitter: %w", err)
			return e
		}
	}
	e.core, e.err = edge.New(edge.Config{
		Keys: keys, Authorizer: authz, SandboxUpstream: c.SandboxUpstreamURL, LiveUpstream: c.LiveUpstreamURL,
		Clock: p.deps.Clock, Logger: log, Signer: signer,
	})
	e.pending = newPending(p.deps.MaxPending, 5*time.Minute)
	return e
}

func (p *Plugin) keys(c *Config, log *slog.Logger) (edge.KeyLookup, error) {
	if p.deps.NewKeys != nil {
		return p.deps.NewKeys(p.ctx, c)
	}
	if c.ControlPlaneURL != "" {
		client, err := edgesync.NewClient(edgesync.ClientConfig{
			BaseURL: c.ControlPlaneURL, Token: c.edgeToken(), SnapshotPath: c.SnapshotPath, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		go func() { _ = client.Run(p.ctx) }()
		return client, nil
	}
	src, err := edgesync.NewFileSource(edgesync.FileConfig{Path: c.KeysFile, Logger: log})
	if err != nil {
		return nil, err
	}
	go func() { _ = src.Run(p.ctx) }()
	return src, nil
}

func (p *Plugin) authorizer(c *Config, log *slog.Logger) (edge.Authorizer, error) {
	if p.deps.NewAuthorizer != nil {
		return p.deps.NewAuthorizer(p.ctx, c)
	}
	engine, err := policies.New(policies.Config{Logger: log, Clock: p.deps.Clock})
	if err != nil {
		return nil, err
	}
	if c.PolicyBundleURL != "" {
		poller, err := policies.NewPoller(policies.PollerConfig{Engine: engine, URL: c.PolicyBundleURL, Token: c.edgeToken(), Logger: log, Clock: p.deps.Clock})
		if err != nil {
			return nil, err
		}
		go func() { _ = poller.Run(p.ctx) }()
	}
	return engine, nil
}

// PendingStats reports, over all configurations, how many allowed requests wait for their
// log phase and how many were dropped unclaimed (their log phase never came in time).
func (p *Plugin) PendingStats() (inFlight int, dropped uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.edges {
		if e.pending != nil {
			n, d := e.pending.stats()
			inFlight += n
			dropped += d
		}
	}
	return inFlight, dropped
}
