package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/orderevent"
	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/contract/edgesign"
	"github.com/steller/platform/control-plane/sandbox"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/server"
)

var sandboxSpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.PostgresURL, config.KafkaBrokers,
		config.SandboxAddr, config.SandboxDelay, config.OrderEventTopic, config.ShutdownTimeout,
		config.EdgeSigningSecrets, config.EdgeSigWindow,
	},
	Required: []string{config.PostgresURL, config.KafkaBrokers, config.EdgeSigningSecrets},
}

var liveVendorSpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.PostgresURL, config.KafkaBrokers,
		config.LiveVendorAddr, config.LiveVendorDelay, config.OrderEventTopic, config.ShutdownTimeout,
		config.EdgeSigningSecrets, config.EdgeSigWindow,
	},
	Required: []string{config.PostgresURL, config.KafkaBrokers, config.EdgeSigningSecrets},
}

func sandboxCommand() *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "run the sandbox gift-card vendor: the upstream that test keys reach through the edge",
		Description: "Catalog, idempotent orders paid from each partner's fake USD, orders finished after " +
			"--sandbox-completion-delay, and every order state change published to --order-event-topic. " +
			"It serves only requests whose identity headers carry the edge's signature (--edge-signing-secrets), " +
			"and refuses unsigned, tampered and stale ones; keep it reachable from the edge alone as well.",
		Flags: sandboxSpec.Flags(),
		Action: sandboxSpec.Action(func(ctx context.Context, c config.Config) error {
			return runVendor(ctx, c, sandbox.ModeSandbox)
		}),
	}
}

func liveVendorCommand() *cli.Command {
	return &cli.Command{
		Name:  "live-vendor",
		Usage: "run the live vendor stand-in: the upstream of live keys in local runs, in place of the production gift-card API",
		Description: "The sandbox vendor's code in live mode: live keys only, its own tables (live_orders, " +
			"live_order_outbox), no balance (GET /v1/balance answers 404 balance_not_available) and no magic " +
			"values; orders complete after --live-vendor-completion-delay and every state change is published to " +
			"--order-event-topic with environment live, as the production API publishes it. Like every upstream " +
			"it serves only requests the edge signed (--edge-signing-secrets). For local runs and the compose " +
			"stack, never production.",
		Flags: liveVendorSpec.Flags(),
		Action: liveVendorSpec.Action(func(ctx context.Context, c config.Config) error {
			return runVendor(ctx, c, sandbox.ModeLive)
		}),
	}
}

func runVendor(ctx context.Context, c config.Config, mode sandbox.Mode) error {
	s, err := newVendor(ctx, c, c.Logger(), mode)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Run(ctx)
}

// newSandbox wires the sandbox vendor.
func newSandbox(ctx context.Context, c config.Config, logger *slog.Logger) (*service, error) {
	return newVendor(ctx, c, logger, sandbox.ModeSandbox)
}

// newLiveVendor wires the live vendor stand-in.
func newLiveVendor(ctx context.Context, c config.Config, logger *slog.Logger) (*service, error) {
	return newVendor(ctx, c, logger, sandbox.ModeLive)
}

// newVendor wires the sandbox vendor or the live vendor stand-in: its API on
// --sandbox-addr (or --live-vendor-addr) beside the operational endpoints, and its worker
// (finishes due orders, publishes the outbox to Kafka).
func newVendor(ctx context.Context, c config.Config, logger *slog.Logger, mode sandbox.Mode) (*service, error) {
	name, addr, delay := "sandbox", c.SandboxAddr, c.SandboxCompletionDelay
	if mode == sandbox.ModeLive {
		name, addr, delay = "live-vendor", c.LiveVendorAddr, c.LiveVendorCompletionDelay
	}
	verifier, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: c.EdgeSigningSecrets, Window: c.EdgeSignatureWindow})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pool, err := pgxpool.New(ctx, c.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("%s: postgres: %w", name, err)
	}
	pub, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: c.KafkaBrokers, Topic: c.OrderEventTopic})
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &service{close: func() {
		if err := pub.Close(); err != nil {
			logger.Warn(name+": closing the order event publisher", "err", err)
		}
		pool.Close()
	}}
	vendor, err := sandbox.New(sandbox.Config{Mode: mode, Pool: pool, Publisher: pub, Verifier: verifier, Logger: logger.With("component", name),
		CompletionDelay: delay})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ops, err = server.New(server.Config{
		Name: name, Addr: addr, Handler: vendor.Handler(), Logger: logger, ShutdownTimeout: c.ShutdownTimeout,
		Checks: []server.Check{
			{Name: "postgres", Probe: pool.Ping},
			{Name: "kafka", Probe: func(ctx context.Context) error { return topic.Ping(ctx, c.KafkaBrokers) }},
		},
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.workers = []func(context.Context) error{vendor.Run}
	return s, nil
}
