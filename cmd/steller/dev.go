package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"

	"github.com/steller/platform/analytics/requestlog"
	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/gateway-plugin/apikey"
	"github.com/steller/platform/gateway-plugin/edgesync"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/devupstream"
	"github.com/steller/platform/internal/localstack"
	"github.com/steller/platform/internal/server"
)

var devSpec = config.Spec{Settings: []string{
	config.LogLevel, config.LogFormat, config.DataDir, config.KafkaBrokers,
	config.ClickHouseDatabase, config.ControlPlaneAddr, config.ShutdownTimeout, config.PortOffset,
	config.GatewayAddr, config.GatewayOpsAddr,
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

	cp, closeCP, err := newControlPlane(ctx, c, logger)
	if err != nil {
		return err
	}
	defer closeCP()

	gw, devKey, err := newDevGateway(ctx, c, logger, stack.Dir)
	if err != nil {
		return err
	}
	printBanner(c, cp.URL(), gw, devKey, stack, ports)
	group, ctx := errgroup.WithContext(ctx)
	group.Go(func() error { return cp.Run(ctx) })
	group.Go(func() error { return gw.Run(ctx) })
	return group.Wait()
}

// newDevGateway runs the built-in gateway on a keys file in the data dir holding one
// sandbox key (made on the first run, kept after), in front of the echo upstream that
// stands in for the sandbox vendor.
func newDevGateway(ctx context.Context, c config.Config, logger *slog.Logger, dataDir string) (*edgeGateway, string, error) {
	keysFile := filepath.Join(dataDir, "edge-keys.json")
	secret, err := ensureDevKey(keysFile)
	if err != nil {
		return nil, "", err
	}
	upstream, err := server.New(server.Config{Name: "dev-upstream", Addr: "127.0.0.1:0", Handler: devupstream.Handler(), Logger: logger})
	if err != nil {
		return nil, "", err
	}
	c.SandboxUpstreamURL, c.LiveUpstreamURL, c.EdgeKeysFile = upstream.URL(), upstream.URL(), keysFile
	gw, err := newEdgeGateway(ctx, c, logger, requestlog.Nop{})
	if err != nil {
		return nil, "", err
	}
	gw.workers = append(gw.workers, upstream.Run)
	return gw, secret, nil
}

// ensureDevKey returns the sandbox key of the keys file, writing a new file with a fresh
// key when there is none.
func ensureDevKey(path string) (string, error) {
	if raw, err := os.ReadFile(path); err == nil {
		var f edgesync.File
		if err := json.Unmarshal(raw, &f); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		for _, k := range f.Keys {
			if strings.HasPrefix(k.Secret, "sk_test_") {
				return k.Secret, nil
			}
		}
		return "", fmt.Errorf("%s has no sk_test_ key: delete it to make a new one", path)
	}
	secret, key, err := apikey.Generate(apikey.Test, rand.Reader)
	if err != nil {
		return "", err
	}
	f := edgesync.File{
		Partners: []edgesync.Partner{{ID: "ptr_dev", Status: edgesync.PartnerActive}},
		Keys: []edgesync.FileKey{{Secret: secret, Key: edgesync.Key{
			KeyID: "key_dev_" + strings.TrimPrefix(key.Display, "sk_test_"), PartnerID: "ptr_dev", WorkspaceID: "ws_dev",
			Roles: []string{"balance:read", "catalog:read", "orders:read", "orders:write"},
		}}},
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	return secret, os.WriteFile(path, raw, 0o600)
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

func printBanner(c config.Config, controlPlane string, gw *edgeGateway, devKey string, stack *localstack.Stack, p localstack.Ports) {
	fmt.Fprintf(os.Stdout, `
Steller is running locally. Ctrl-C stops everything.

  Control plane   %[1]s   (health %[1]s/healthz, readiness /readyz, metrics /metrics)
  Gateway         %[7]s   (health %[8]s/healthz, readiness /readyz, metrics /metrics)
  Sandbox key     %[9]s
  PostgreSQL      %[2]s
  ClickHouse      %[3]s (native)   http://127.0.0.1:%[4]s
  Kafka           %[5]s
  Data and logs   %[6]s

Try the edge with the sandbox key (an echo upstream shows what the upstream receives):
  curl -s -H 'Authorization: Bearer %[9]s' %[7]s/v1/catalog
`, controlPlane, stack.Postgres.URL("steller"), stack.ClickHouse.Addr(), strconv.Itoa(p.ClickHouseHTTP), c.KafkaBrokers, stack.Dir,
		gw.URL(), gw.OpsURL(), devKey)
}
