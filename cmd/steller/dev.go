package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/localstack"
)

var devSettings = []string{
	config.LogLevel, config.LogFormat, config.DataDir, config.KafkaBrokers,
	config.ClickHouseDatabase, config.ControlPlaneAddr, config.ShutdownTimeout, config.PortOffset,
}

func devCommand() *cli.Command {
	settings := config.Lookup(devSettings...)
	return &cli.Command{
		Name:  "dev",
		Usage: "run the whole platform on this machine on its embedded defaults",
		Description: "Starts and supervises local PostgreSQL and ClickHouse servers in --data-dir " +
			"(installing them with scripts/install.sh when missing), runs an embedded Kafka-protocol " +
			"broker unless --kafka-brokers names real ones, applies migrations, starts every service " +
			"and stops everything on Ctrl-C. A second run reuses the data.",
		Flags:  config.Flags(settings),
		Action: config.Action(settings, nil, runDev),
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

	cp, closeCP, err := newControlPlane(ctx, c, logger)
	if err != nil {
		return err
	}
	defer closeCP()
	printBanner(c, cp.URL(), stack, ports)
	return cp.Run(ctx)
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

func printBanner(c config.Config, controlPlane string, stack *localstack.Stack, p localstack.Ports) {
	fmt.Fprintf(os.Stdout, `
Steller is running locally. Ctrl-C stops everything.

  Control plane   %[1]s
  Health          %[1]s/healthz   readiness %[1]s/readyz   metrics %[1]s/metrics
  PostgreSQL      %[2]s
  ClickHouse      %[3]s (native)   http://127.0.0.1:%[4]s
  Kafka           %[5]s
  Data and logs   %[6]s

Try:
  curl -s %[1]s/readyz
`, controlPlane, stack.Postgres.URL("steller"), stack.ClickHouse.Addr(), strconv.Itoa(p.ClickHouseHTTP), c.KafkaBrokers, stack.Dir)
}
