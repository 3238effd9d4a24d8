package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/steller/platform/analytics/emitter"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/gateway-plugin/edge"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/gateway-plugin/gateway"
	"github.com/steller/platform/internal/clientip"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/server"
	"github.com/steller/platform/policies"
)

var gatewaySpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.GatewayAddr, config.GatewayOpsAddr,
		config.SandboxUpstreamURL, config.LiveUpstreamURL,
		config.EdgeKeysFile, config.ControlPlaneURL, config.EdgeToken, config.EdgeSnapshotPath,
		config.PolicyBundleURL, config.TrustedProxies, config.ShutdownTimeout,
		config.KafkaBrokers, config.SpoolDir, config.SpoolMaxBytes, config.RequestLogTopic,
		config.EdgeSigningSecrets,
	},
	Required: []string{config.SandboxUpstreamURL, config.LiveUpstreamURL, config.KafkaBrokers, config.EdgeSigningSecrets},
	Check: func(c config.Config) error {
		var errs []error
		switch {
		case c.EdgeKeysFile == "" && c.ControlPlaneURL == "":
			errs = append(errs, errors.New("name the key source: --edge-keys-file or --control-plane-url"))
		case c.EdgeKeysFile != "" && c.ControlPlaneURL != "":
			errs = append(errs, errors.New("--edge-keys-file and --control-plane-url are two key sources: choose one"))
		}
		if (c.ControlPlaneURL != "" || c.PolicyBundleURL != "") && c.EdgeToken == "" {
			errs = append(errs, errors.New("--edge-token is required with --control-plane-url or --policy-bundle-url"))
		}
		return errors.Join(errs...)
	},
}

func gatewayCommand() *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "run the built-in edge gateway: the steller-edge decision core in front of the sandbox and live upstreams",
		Description: "Partner traffic on --gateway-addr; /healthz, /readyz and /metrics on --gateway-ops-addr. " +
			"Keys come from the control plane's edge sync feed or from a static file.",
		Flags: gatewaySpec.Flags(),
		Action: gatewaySpec.Action(func(ctx context.Context, c config.Config) error {
			logger := c.Logger()
			gw, err := newEdgeGateway(ctx, c, logger)
			if err != nil {
				return err
			}
			return gw.Run(ctx)
		}),
	}
}

// edgeGateway is the built-in gateway with its key source, policy engine and the two
// listeners (partner traffic, operations), ready to run.
type edgeGateway struct {
	handler  http.Handler
	listener net.Listener
	ops      *server.Server
	cfg      config.Config
	workers  []func(context.Context) error
	ready    func() bool
	emitter  *emitter.Emitter
}

// WaitReady waits until the gateway has a key table, or ctx ends.
func (g *edgeGateway) WaitReady(ctx context.Context) error {
	for !g.ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// URL is the partner-facing base URL.
func (g *edgeGateway) URL() string { return "http://" + g.listener.Addr().String() }

// OpsURL is the base URL of /healthz, /readyz and /metrics.
func (g *edgeGateway) OpsURL() string { return g.ops.URL() }

// newEdgeGateway wires the edge by hand: key source, policy engine (and bundle poller),
// request-log emitter, decision core, gateway, and binds both listeners so a busy port
// fails at start.
func newEdgeGateway(ctx context.Context, c config.Config, logger *slog.Logger) (*edgeGateway, error) {
	g := &edgeGateway{cfg: c}
	reg := server.NewRegistry()
	var keys edge.KeyLookup
	var keysReady func() bool
	if c.ControlPlaneURL != "" {
		client, err := edgesync.NewClient(edgesync.ClientConfig{
			BaseURL: c.ControlPlaneURL, Token: c.EdgeToken, SnapshotPath: c.EdgeSnapshotPath, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		keys, keysReady = client, client.Ready
		g.workers = append(g.workers, client.Run)
	} else {
		file, err := edgesync.NewFileSource(edgesync.FileConfig{Path: c.EdgeKeysFile, Logger: logger})
		if err != nil {
			return nil, err
		}
		keys, keysReady = file, func() bool { return file.Table() != nil }
		g.workers = append(g.workers, file.Run)
	}
	engine, err := policies.New(policies.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	if c.PolicyBundleURL != "" {
		poller, err := policies.NewPoller(policies.PollerConfig{Engine: engine, URL: c.PolicyBundleURL, Token: c.EdgeToken, Logger: logger})
		if err != nil {
			return nil, err
		}
		g.workers = append(g.workers, func(ctx context.Context) error { poller.Run(ctx); return nil })
	}
	signer, err := edgesign.NewSigner(c.EdgeSigningSecrets)
	if err != nil {
		return nil, err
	}
	core, err := edge.New(edge.Config{
		Keys: keys, Authorizer: engine, Logger: logger, Signer: signer,
		SandboxUpstream: c.SandboxUpstreamURL, LiveUpstream: c.LiveUpstreamURL,
	})
	if err != nil {
		return nil, err
	}
	g.emitter, err = emitter.New(emitter.Config{
		Brokers: c.KafkaBrokers, Topic: c.RequestLogTopic, Logger: logger, Registerer: reg, SpoolDir: c.SpoolDir, SpoolMaxBytes: c.SpoolMaxBytes,
	})
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(gateway.Config{Core: core, Emitter: g.emitter, Logger: logger, TrustedProxies: c.TrustedProxies})
	if err != nil {
		return nil, err
	}

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "steller_gateway_requests_total", Help: "Partner requests answered by the gateway, by method and status code.",
	}, []string{"method", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "steller_gateway_request_duration_seconds", Help: "Partner request latency through the gateway, upstream included.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method"})
	reg.MustRegister(requests, duration)
	g.handler = promhttp.InstrumentHandlerCounter(requests, promhttp.InstrumentHandlerDuration(duration, gw))

	g.ops, err = server.New(server.Config{
		Name: "gateway", Addr: c.GatewayOpsAddr, Logger: logger, Registry: reg, ShutdownTimeout: c.ShutdownTimeout,
		Checks: []server.Check{
			{Name: "keys", Probe: func(context.Context) error {
				if !keysReady() {
					return errors.New("no key table yet (control plane not reached and no snapshot on disk)")
				}
				return nil
			}},
			{Name: "policy", Probe: func(context.Context) error {
				if engine.Revision() == "" {
					return errors.New("no policy bundle active")
				}
				return nil
			}},
		},
	})
	if err != nil {
		return nil, err
	}
	g.listener, err = net.Listen("tcp", c.GatewayAddr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", c.GatewayAddr, err)
	}
	g.workers = append(g.workers, g.serve(gw))
	g.ready = keysReady
	return g, nil
}

func (g *edgeGateway) serve(gw *gateway.Gateway) func(context.Context) error {
	return func(ctx context.Context) error {
		srv := gw.Server(g.listener.Addr().String())
		srv.Handler = g.handler
		done := make(chan error, 1)
		go func() { done <- srv.Serve(g.listener) }()
		select {
		case err := <-done:
			return fmt.Errorf("gateway: %w", err)
		case <-ctx.Done():
		}
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("gateway: shutdown: %w", err)
		}
		return nil
	}
}

// Run serves partner traffic and operations, and keeps keys and policies current, until
// ctx ends; then it drains requests in flight within the shutdown timeout and flushes the
// request-log events (to Kafka, or to the spool when Kafka is away).
func (g *edgeGateway) Run(ctx context.Context) error {
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.ShutdownTimeout)
		defer cancel()
		if err := g.emitter.Close(flushCtx); err != nil {
			g.ops.Logger().Error("request-log flush incomplete", "err", err)
		}
	}()
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return g.ops.Run(ctx) })
	for _, w := range g.workers {
		group.Go(func() error {
			if err := w(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
	}
	return group.Wait()
}

// parsePrefixes turns validated addresses and CIDRs into prefixes.
func parsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, e := range list {
		p, err := clientip.ParsePrefix(e)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
