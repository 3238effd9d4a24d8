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
			s, err := newSandbox(ctx, c, c.Logger())
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Run(ctx)
		}),
	}
}

// newSandbox wires the sandbox vendor: its API on --sandbox-addr beside the operational
// endpoints, and its worker (finishes due orders, publishes the outbox to Kafka).
func newSandbox(ctx context.Context, c config.Config, logger *slog.Logger) (*service, error) {
	verifier, err := edgesign.NewVerifier(edgesign.VerifierConfig{Secrets: c.EdgeSigningSecrets, Window: c.EdgeSignatureWindow})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	pool, err := pgxpool.New(ctx, c.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("sandbox: postgres: %w", err)
	}
	pub, err := orderevent.NewPublisher(orderevent.PublisherConfig{Brokers: c.KafkaBrokers, Topic: c.OrderEventTopic})
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &service{close: func() {
		if err := pub.Close(); err != nil {
			logger.Warn("sandbox: closing the order event publisher", "err", err)
		}
		pool.Close()
	}}
	vendor, err := sandbox.New(sandbox.Config{Pool: pool, Publisher: pub, Verifier: verifier, Logger: logger.With("component", "sandbox"),
		CompletionDelay: c.SandboxCompletionDelay})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ops, err = server.New(server.Config{
		Name: "sandbox", Addr: c.SandboxAddr, Handler: vendor.Handler(), Logger: logger, ShutdownTimeout: c.ShutdownTimeout,
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
