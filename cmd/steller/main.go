// Command steller is the one binary of the Steller platform: each long-running service is
// a subcommand (control-plane, gateway, ingest, sandbox, live-vendor), plus
// `steller migrate`, `steller backfill milestones`, the local server stack
// (`steller stack`) and `steller dev`, which runs the whole platform on this machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/steller/platform/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := rootCommand().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "steller:", err)
		os.Exit(1)
	}
}

// serviceSpecs are the subcommands a deployment runs, by name; compose_test.go checks
// docker-compose.yml against them.
func serviceSpecs() map[string]config.Spec {
	return map[string]config.Spec{
		"control-plane": controlPlaneSpec,
		"gateway":       gatewaySpec,
		"ingest":        ingestSpec,
		"migrate":       migrateSpec,
		"sandbox":       sandboxSpec,
		"live-vendor":   liveVendorSpec,
	}
}

func rootCommand() *cli.Command {
	return &cli.Command{
		Name:    "steller",
		Usage:   "Steller's partner platform: edge, control plane, analytics",
		Version: version,
		Description: "Every setting is a flag and an environment variable (shown in brackets); " +
			"flags win over the environment. Settings are validated together at start.",
		Commands: []*cli.Command{
			devCommand(),
			controlPlaneCommand(),
			gatewayCommand(),
			ingestCommand(),
			sandboxCommand(),
			liveVendorCommand(),
			migrateCommand(),
			stackCommand(),
			createAdminCommand(),
			backfillCommand(),
			probeCommand(),
			openAPICommand(),
		},
	}
}
