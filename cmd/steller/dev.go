package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/control-plane/policy"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/localstack"
)

var devSpec = config.Spec{Settings: []string{
	config.LogLevel, config.LogFormat, config.DataDir, config.KafkaBrokers,
	config.ClickHouseDatabase, config.ControlPlaneAddr, config.ControlPlaneOps, config.ShutdownTimeout, config.PortOffset,
	config.GatewayAddr, config.GatewayOpsAddr, config.IngestAddr, config.IngestGroup, config.IngestBatchSize,
	config.IngestFlush, config.RetentionDays, config.RequestLogTopic,
	config.OrderEventTopic, config.SandboxAddr, config.SandboxDelay, config.LiveVendorAddr, config.LiveVendorDelay,
	config.WebhookDelivery, config.WebhookConcurrency, config.MilestoneDetector, config.MilestoneGroup,
}}

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run the whole platform on this machine on its embedded defaults",
		Description: "Starts and supervises local PostgreSQL and ClickHouse servers in --data-dir " +
			"(installing them with scripts/install.sh when missing), runs an embedded Kafka-protocol " +
			"broker unless --kafka-brokers names real ones, applies migrations, starts every service " +
			"and stops everything on Ctrl-C. A second run reuses the data.",
		Flags:  devSpec.Flags(),
		Action: devSpec.Action(runDev),
	}
}

func runDev(ctx context.Context, c config.Config) error {
	logger := c.Logger()
	ports := localstack.DevPorts().Shift(c.PortOffset)
	stack, err := localstack.NewStack(c.DataDir, ports, "")
	if err != nil {
		return err
	}
	sup := localstack.NewSupervisor(logger, filepath.Join(stack.Dir, "logs"))
	defer sup.Stop()
	for _, srv := range stack.Servers() {
		err := sup.Start(ctx, srv)
		if errors.Is(err, localstack.ErrNotInstalled) {
			logger.Info("installing local servers with scripts/install.sh", "server", srv.Name())
			if ierr := runInstallScript(ctx); ierr != nil {
				return fmt.Errorf("%w; installing failed: %v", err, ierr)
			}
			err = sup.Start(ctx, srv)
		}
		if err != nil {
			return err
		}
	}

	c.PostgresURL = stack.Postgres.URL("steller")
	if err := stack.Postgres.EnsureDatabase(ctx, "steller"); err != nil {
		return err
	}
	c.ClickHouseAddr, c.ClickHouseUser = stack.ClickHouse.Addr(), "default"
	if len(c.KafkaBrokers) == 0 {
		broker, err := kfake.NewCluster(
			kfake.NumBrokers(1),
			kfake.Ports(ports.Kafka),
			kfake.DataDir(filepath.Join(stack.Dir, "kafka-embedded")),
			kfake.SeedTopics(6, topic.RequestLogs),
			kfake.SeedTopics(3, topic.OrderEvents),
		)
		if err != nil {
			return fmt.Errorf("embedded kafka broker: %w", err)
		}
		defer broker.Close()
		c.KafkaBrokers = broker.ListenAddrs()
		logger.Info("embedded kafka broker ready", "brokers", c.KafkaBrokers, "data", filepath.Join(stack.Dir, "kafka-embedded"))
	}
	if err := migrate(ctx, c, logger, 1); err != nil {
		return err
	}

	secrets, err := loadDevSecrets(filepath.Join(stack.Dir, "dev-secrets.json"))
	if err != nil {
		return err
	}
	c.EdgeTokens = []string{secrets.EdgeToken}
	c.EdgeSigningSecrets = []string{secrets.EdgeSigning}
	// Local webhook receivers live on this machine: let deliveries reach loopback and
	// private addresses (metadata and link-local addresses stay refused).
	c.WebhookAllowPrivate = true
	// Local receivers and the browser speak plain http here.
	c.WebhookAllowHTTP = true
	c.CookieSecure = false
	// A developer scripting signups and sign-ins must not be locked out for an hour.
	c.SignupLimit = config.Rate{Requests: 1000, Per: time.Hour}
	c.LoginLimit = config.Rate{Requests: 1000, Per: time.Minute}
	// Nor capped by tenant limits while scripting keys, endpoints, test orders and sends.
	c.KeyLimit, c.WebhookEndpointLimit = 10_000, 1000
	c.ConsoleOrderLimit = config.Rate{Requests: 1000, Per: time.Minute}
	c.WebhookTestLimit = config.Rate{Requests: 1000, Per: time.Minute}
	cp, err := newControlPlane(ctx, c, logger)
	if err != nil {
		return err
	}
	defer cp.Close()
	if err := secrets.ensureAccounts(ctx, cp); err != nil {
		return err
	}

	vendor, err := newSandbox(ctx, c, logger)
	if err != nil {
		return err
	}
	defer vendor.Close()
	liveVendor, err := newLiveVendor(ctx, c, logger)
	if err != nil {
		return err
	}
	defer liveVendor.Close()
	gw, err := newDevGateway(ctx, c, logger, stack.Dir, cp.URL(), secrets.EdgeToken, vendor.URL(), liveVendor.URL())
	if err != nil {
		return err
	}
	cp.consoleEdge = gw.URL()
	in, err := newIngest(ctx, c, logger)
	if err != nil {
		return err
	}
	defer in.Close()
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return cp.Run(ctx) })
	group.Go(func() error { return gw.Run(ctx) })
	group.Go(func() error { return vendor.Run(ctx) })
	group.Go(func() error { return liveVendor.Run(ctx) })
	group.Go(func() error { return in.Run(ctx) })
	group.Go(func() error {
		// The banner's curl must work when it appears: wait for the gateway's first keys.
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := gw.WaitReady(waitCtx); err != nil && ctx.Err() == nil {
			logger.Warn("gateway has no keys yet; the banner's curl may be refused until it has", "err", err)
		}
		printBanner(c, cp, gw, in, vendor, liveVendor, secrets, stack, ports)
		return nil
	})
	return group.Wait()
}

// newDevGateway runs the built-in gateway against the local control plane (keys by edge
// sync, policies as bundles): test keys reach the sandbox vendor, live keys the live
// vendor stand-in that takes the production gift-card API's place.
func newDevGateway(ctx context.Context, c config.Config, logger *slog.Logger, dataDir, controlPlane, edgeToken, sandboxURL, liveURL string) (*edgeGateway, error) {
	c.SandboxUpstreamURL, c.LiveUpstreamURL = sandboxURL, liveURL
	c.ControlPlaneURL, c.EdgeToken = controlPlane, edgeToken
	c.PolicyBundleURL = controlPlane + policy.BundlePath
	c.EdgeSnapshotPath = filepath.Join(dataDir, "edge-snapshot.json")
	c.SpoolDir, c.SpoolMaxBytes = filepath.Join(dataDir, "spool", "gateway"), 256<<20
	return newEdgeGateway(ctx, c, logger)
}

// runInstallScript runs the project's install script for the local servers; steller dev
// is run from the repository root (make dev does so).
func runInstallScript(ctx context.Context) error {
	script := filepath.Join("scripts", "install.sh")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("%s not found: run steller dev from the repository root", script)
	}
	cmd := exec.CommandContext(ctx, "bash", script, "servers")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func printBanner(c config.Config, cp *controlPlane, gw *edgeGateway, in, vendor, liveVendor *service, s *devSecrets, stack *localstack.Stack, p localstack.Ports) {
	fmt.Fprintf(os.Stdout, `
Steller is running locally. Ctrl-C stops everything.

  Control plane   %[1]s   (health %[1]s/healthz; operations %[17]s/readyz, /metrics)
  Portal          %[1]s/   (guides %[1]s/docs, API reference %[1]s/docs/api; OpenAPI %[1]s/openapi/partner.json, %[1]s/openapi.json)
  Gateway         %[7]s   (health %[8]s/healthz, readiness /readyz, metrics /metrics)
  Sandbox vendor  %[16]s   (the upstream of test keys; reach it through the gateway)
  Live vendor     %[18]s   (the upstream of live keys, standing in for the production gift-card API; reach it through the gateway)
  Ingest          %[14]s/metrics   (request logs: Kafka to ClickHouse %[3]s, table %[15]s.request_logs)
  Sandbox key     %[9]s
  Demo partner    %[10]s / %[11]s
  Platform admin  %[12]s / %[13]s
  PostgreSQL      %[2]s
  ClickHouse      %[3]s (native)   http://127.0.0.1:%[4]s
  Kafka           %[5]s
  Data and logs   %[6]s

Order a test gift card through the edge with the sandbox key (it completes in a few
seconds; GET /v1/orders/{id} shows the card), and sign in to the API as the demo partner:
  curl -s -H 'Authorization: Bearer %[9]s' %[7]s/v1/catalog
  curl -s -X POST -H 'Authorization: Bearer %[9]s' -H 'Idempotency-Key: first-order' \
       -H 'Content-Type: application/json' -d '{"product_id":"sbx_amazing_books","amount_cents":2500}' %[7]s/v1/orders
  curl -s -X POST %[1]s/v1/auth/login -H 'Content-Type: application/json' \
       -d '{"email":"%[10]s","password":"%[11]s"}'
`, cp.URL(), stack.Postgres.URL("steller"), stack.ClickHouse.Addr(), strconv.Itoa(p.ClickHouseHTTP), c.KafkaBrokers, stack.Dir,
		gw.URL(), gw.OpsURL(), s.SandboxKey, s.DemoEmail, s.DemoPassword, s.AdminEmail, s.AdminPassword,
		in.URL(), c.ClickHouseDatabase, vendor.URL(), cp.OpsURL(), liveVendor.URL())
}
