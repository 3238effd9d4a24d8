package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/server"
)

var controlPlaneSpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.PostgresURL,
		config.ClickHouseAddr, config.ClickHouseDatabase, config.ClickHouseUser, config.ClickHousePassword,
		config.KafkaBrokers, config.ControlPlaneAddr, config.ShutdownTimeout,
	},
	Required: []string{config.PostgresURL, config.ClickHouseAddr, config.KafkaBrokers},
}

func controlPlaneCommand() *cli.Command {
	return &cli.Command{
		Name:  "control-plane",
		Usage: "run the control plane: partner API, portal, docs and edge sync",
		Flags: controlPlaneSpec.Flags(),
		Action: controlPlaneSpec.Action(
			func(ctx context.Context, c config.Config) error {
				logger := c.Logger()
				srv, closeDeps, err := newControlPlane(ctx, c, logger)
				if err != nil {
					return err
				}
				defer closeDeps()
				return srv.Run(ctx)
			}),
	}
}

// newControlPlane connects the control plane's dependencies and binds its server. The
// API itself arrives with the control-plane issue; today it serves an index and the
// operational endpoints, with readiness checks on PostgreSQL, ClickHouse and Kafka.
func newControlPlane(ctx context.Context, c config.Config, logger *slog.Logger) (*server.Server, func(), error) {
	pool, err := pgxpool.New(ctx, c.PostgresURL)
	if err != nil {
		return nil, nil, fmt.Errorf("control plane: postgres: %w", err)
	}
	ch, err := warehouse.Open(ctx, warehouse.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase, User: c.ClickHouseUser, Password: c.ClickHousePassword})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	closeDeps := func() { pool.Close(); ch.Close() }
	index := http.NewServeMux()
	index.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"service":   "steller-control-plane",
			"version":   version,
			"endpoints": []string{"/healthz", "/readyz", "/metrics"},
		})
	})
	srv, err := server.New(server.Config{
		Name:            "control-plane",
		Addr:            c.ControlPlaneAddr,
		Handler:         index,
		Logger:          logger,
		ShutdownTimeout: c.ShutdownTimeout,
		Checks: []server.Check{
			{Name: "postgres", Probe: pool.Ping},
			{Name: "clickhouse", Probe: ch.Ping},
			{Name: "kafka", Probe: func(ctx context.Context) error { return topic.Ping(ctx, c.KafkaBrokers) }},
		},
	})
	if err != nil {
		closeDeps()
		return nil, nil, err
	}
	return srv, closeDeps, nil
}
