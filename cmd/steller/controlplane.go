package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/keyuse"
	"github.com/steller/platform/analytics/logquery"
	"github.com/steller/platform/analytics/readinessquery"
	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/account"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/apikey"
	"github.com/steller/platform/control-plane/console"
	"github.com/steller/platform/control-plane/edgesync"
	"github.com/steller/platform/control-plane/explorer"
	"github.com/steller/platform/control-plane/liverequest"
	"github.com/steller/platform/control-plane/onboarding"
	"github.com/steller/platform/control-plane/partner"
	"github.com/steller/platform/control-plane/policy"
	"github.com/steller/platform/control-plane/portal"
	"github.com/steller/platform/control-plane/portal/dashboard"
	"github.com/steller/platform/control-plane/quota"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/server"
	"github.com/steller/platform/policies"
)

var controlPlaneSpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.PostgresURL,
		config.ClickHouseAddr, config.ClickHouseDatabase, config.ClickHouseUser, config.ClickHousePassword,
		config.KafkaBrokers, config.ControlPlaneAddr, config.ControlPlaneOps, config.ShutdownTimeout,
		config.EdgeTokens, config.CookieSecure, config.TrustedProxies,
		config.RequestLogTopic, config.MilestoneDetector, config.MilestoneGroup,
		config.OrderEventTopic, config.WebhookDelivery, config.WebhookConcurrency, config.WebhookAllowPriv, config.WebhookAllowHTTP,
		config.SignupLimit, config.LoginLimit, config.LoginFreeFailures,
		config.ConsoleEdgeURL,
		config.KeyLimit, config.WebhookEndpointLim, config.ConsoleOrderLimit, config.WebhookTestLimit, config.EdgeDeadKeyGrace,
	},
	Required: []string{config.PostgresURL, config.ClickHouseAddr, config.KafkaBrokers, config.EdgeTokens},
}

func controlPlaneCommand() *cli.Command {
	return &cli.Command{
		Name:  "control-plane",
		Usage: "run the control plane: partner API, docs, edge sync and policy bundles",
		Description: "The API, docs, edge sync and /healthz on --control-plane-addr; /readyz (naming any failing " +
			"dependency) and /metrics on --control-plane-ops-addr, which should stay on a private network.",
		Flags: controlPlaneSpec.Flags(),
		Action: controlPlaneSpec.Action(func(ctx context.Context, c config.Config) error {
			cp, err := newControlPlane(ctx, c, c.Logger())
			if err != nil {
				return err
			}
			defer cp.Close()
			return cp.Run(ctx)
		}),
	}
}

// controlPlane is the wired control plane: the API with every resource registered, the
// edge sync server and the policy bundle server on one listener, plus their background
// work (LISTEN connections, pruning), run together as a service.
type controlPlane struct {
	service
	pool    *pgxpool.Pool
	closers []func()
	api     *api.API
	// consoleEdge is the edge the console's test orders go through (--console-edge-url;
	// steller dev sets it to its gateway before Run).
	consoleEdge string
}

// Close releases the connections.
func (cp *controlPlane) Close() {
	for i := len(cp.closers) - 1; i >= 0; i-- {
		cp.closers[i]()
	}
}

// newControlPlane connects the control plane's stores and wires its parts by hand.
func newControlPlane(ctx context.Context, c config.Config, logger *slog.Logger) (*controlPlane, error) {
	return wireControlPlane(ctx, c, logger, false)
}

// wireControlPlane is newControlPlane; offline wires it without reaching any server (the
// pool and the ClickHouse connection connect on first use), for printing the OpenAPI
// document.
func wireControlPlane(ctx context.Context, c config.Config, logger *slog.Logger, offline bool) (*controlPlane, error) {
	cp := &controlPlane{}
	fail := func(err error) (*controlPlane, error) { cp.Close(); return nil, err }

	pool, err := pgxpool.New(ctx, c.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("control plane: postgres: %w", err)
	}
	cp.pool = pool
	cp.closers = append(cp.closers, pool.Close)
	ch, err := warehouse.Open(ctx, warehouse.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase, User: c.ClickHouseUser, Password: c.ClickHousePassword, Lazy: offline})
	if err != nil {
		return fail(err)
	}
	cp.closers = append(cp.closers, func() { ch.Close() })
	reg := server.NewRegistry()
	jobs, deliveries, err := newJobs(c, logger, pool, reg)
	if err != nil {
		return fail(err)
	}

	engine, err := policies.New(policies.Config{Logger: logger})
	if err != nil {
		return fail(err)
	}
	lastUsed, err := keyuse.New(ch, c.ClickHouseDatabase)
	if err != nil {
		return fail(err)
	}
	keys, err := apikey.New(apikey.Config{Pool: pool, Logger: logger, LastUsed: lastUsed, KeyLimit: countLimit(c.KeyLimit), Jobs: jobs})
	if err != nil {
		return fail(err)
	}
	proxies, err := parsePrefixes(c.TrustedProxies)
	if err != nil {
		return fail(err)
	}
	a, err := api.New(api.Config{
		Pool: pool, Logger: logger, Engine: engine, KeyIssuer: keys, Jobs: jobs, Version: version,
		CookieSecure: c.CookieSecure, TrustedProxies: proxies,
		SignupLimit: apiRate(c.SignupLimit), LoginLimit: apiRate(c.LoginLimit), LoginThrottle: loginThrottle(c.LoginFreeFailures),
	})
	if err != nil {
		return fail(err)
	}
	cp.api = a
	apikey.Register(a.Huma(), apikey.Deps{Keys: keys, RBAC: a.Checker()})
	partners, err := partner.New(partner.Config{Pool: pool, Logger: logger, Jobs: jobs})
	if err != nil {
		return fail(err)
	}
	partner.Register(a.Huma(), partner.Deps{Partners: partners, RBAC: a.Checker()})
	hooks, err := wireWebhooks(cp, c, logger, pool, a, jobs, deliveries)
	if err != nil {
		return fail(err)
	}
	logs, err := logquery.New(ch, c.ClickHouseDatabase)
	if err != nil {
		return fail(err)
	}
	explorerDeps := explorer.Deps{Store: logs, Deliveries: hooks, RBAC: a.Checker()}
	explorer.Register(a.Huma(), explorerDeps)
	progress, err := onboarding.New(onboarding.Config{Milestones: pool, Activity: logs, Logger: logger})
	if err != nil {
		return fail(err)
	}
	onboarding.Register(a.Huma(), onboarding.Deps{Service: progress, RBAC: a.Checker()})
	readiness, err := readinessquery.New(ch, c.ClickHouseDatabase)
	if err != nil {
		return fail(err)
	}
	goLive, err := liverequest.New(liverequest.Config{Pool: pool, Partners: partners, Traffic: readiness, Jobs: jobs, Logger: logger})
	if err != nil {
		return fail(err)
	}
	liverequest.Register(a.Huma(), liverequest.Deps{Service: goLive, RBAC: a.Checker()})
	if err := wireGrowth(a, pool, ch, c.ClickHouseDatabase, logger); err != nil {
		return fail(err)
	}
	cp.consoleEdge = c.ConsoleEdgeURL
	orders, err := console.OrderLimiter(pool, quotaRate(c.ConsoleOrderLimit), nil)
	if err != nil {
		return fail(err)
	}
	con, err := console.New(console.Config{Keys: keys, Logger: logger, EdgeURL: func() string { return cp.consoleEdge }, Orders: orders})
	if err != nil {
		return fail(err)
	}
	console.Register(a.Huma(), console.Deps{Console: con, RBAC: a.Checker()})

	bundles, err := policy.NewBundleServer(policy.BundleServerConfig{
		Pool: pool, Logger: logger, EdgeToken: c.EdgeTokens[0], MoreEdgeTokens: c.EdgeTokens[1:],
	})
	if err != nil {
		return fail(err)
	}
	policySvc, err := policy.NewService(policy.Config{Pool: pool, Logger: logger, OnActivate: bundles.Refresh})
	if err != nil {
		return fail(err)
	}
	policy.Register(a.Huma(), policy.Deps{Service: policySvc, Checker: a.Checker()})
	sync, err := edgesync.New(edgesync.Config{Pool: pool, Tokens: c.EdgeTokens, Logger: logger, DeadKeyGrace: c.EdgeDeadKeyGrace})
	if err != nil {
		return fail(err)
	}
	site, err := portal.New(portal.Config{Version: version, EdgeURL: func() string { return cp.consoleEdge }, Logger: logger})
	if err != nil {
		return fail(err)
	}
	site.Register(a.Mux())
	app, err := dashboard.New(dashboard.Config{Accounts: a.Accounts(), RBAC: a.Checker(), Onboarding: progress, Console: con,
		Webhooks: hooks, Keys: keys, Logs: explorerDeps, Limit: a.Allow, CookieSecure: c.CookieSecure, EdgeURL: func() string { return cp.consoleEdge },
		Version: version, Logger: logger})
	if err != nil {
		return fail(err)
	}
	app.Register(a.Mux())
	// Edge endpoints sit beside the API, outside its session middleware: edges present the
	// edge token instead.
	a.Mux().Handle(edgesync.MountPath, sync.Handler())
	a.Mux().Handle(policy.BundlePath, bundles)
	cp.workers = append(cp.workers, sync.Run, bundles.Run)
	if c.MilestoneDetector && !offline {
		if err := wireDetector(cp, c, logger, pool, jobs, reg); err != nil {
			return fail(err)
		}
	}

	cp.ops, err = server.New(server.Config{
		Name:            "control-plane",
		Addr:            c.ControlPlaneAddr,
		OpsAddr:         c.ControlPlaneOpsAddr,
		Registry:        reg,
		Handler:         a.Handler(),
		Logger:          logger,
		ShutdownTimeout: c.ShutdownTimeout,
		OnShutdown:      sync.Drain, // end open long-polls at once instead of waiting them out
		Checks: []server.Check{
			{Name: "postgres", Probe: pool.Ping},
			{Name: "clickhouse", Probe: ch.Ping},
			{Name: "kafka", Probe: func(ctx context.Context) error { return topic.Ping(ctx, c.KafkaBrokers) }},
			{Name: "edge-sync-listener", Probe: func(context.Context) error {
				if !sync.Listening() {
					return errors.New("edge sync LISTEN connection is down (edges fall back to polling)")
				}
				return nil
			}},
		},
	})
	if err != nil {
		return fail(err)
	}
	return cp, nil
}

// apiRate is a configured rate as the API's limit (Requests -1: off).
func apiRate(r config.Rate) api.RateLimit {
	if r.Requests == 0 {
		return api.RateLimit{Requests: -1}
	}
	return api.RateLimit{Requests: r.Requests, Per: r.Per}
}

// countLimit is a configured count limit as a service's: 0 (off) is -1 there, where zero
// takes the service's default.
func countLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// quotaRate is a configured per-partner rate as quota's (Requests 0 is off in both).
func quotaRate(r config.Rate) quota.Rate {
	return quota.Rate{Requests: r.Requests, Per: r.Per}
}

// loginThrottle is the per-account sign-in throttle for free failures (0: off).
func loginThrottle(free int) account.LoginThrottle {
	if free == 0 {
		return account.LoginThrottle{Free: -1}
	}
	t := account.DefaultLoginThrottle
	t.Free = free
	return t
}
