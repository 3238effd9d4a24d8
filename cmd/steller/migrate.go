package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/config"
)

var migrateSpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.PostgresURL,
		config.ClickHouseAddr, config.ClickHouseDatabase, config.ClickHouseUser, config.ClickHousePassword,
		config.KafkaBrokers,
	},
	Required: []string{config.PostgresURL},
}

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply the PostgreSQL and ClickHouse migrations and create the Kafka topics",
		Description: "Each store is migrated when its setting is given; PostgreSQL is required. " +
			"Safe to run again: applied migrations and existing topics are left alone.",
		Flags: migrateSpec.Flags(),
		Action: migrateSpec.Action(func(ctx context.Context, c config.Config) error {
			return migrate(ctx, c, c.Logger(), 1)
		}),
	}
}

// migrate brings every configured store up to date. replication is the Kafka topics'
// replication factor (1 on a single local broker).
func migrate(ctx context.Context, c config.Config, logger *slog.Logger, replication int) error {
	pool, err := pgxpool.New(ctx, c.PostgresURL)
	if err != nil {
		return fmt.Errorf("migrate: postgres: %w", err)
	}
	defer pool.Close()
	v, err := migration.Up(ctx, pool, logger)
	if err != nil {
		return err
	}
	if err := webhook.MigrateQueue(ctx, pool); err != nil {
		return err
	}
	logger.Info("postgres schema up to date", "version", v)
	if c.ClickHouseAddr != "" {
		ch, err := warehouse.Open(ctx, warehouse.Config{Addr: c.ClickHouseAddr, User: c.ClickHouseUser, Password: c.ClickHousePassword})
		if err != nil {
			return err
		}
		defer ch.Close()
		if err := warehouse.EnsureDatabase(ctx, ch, c.ClickHouseDatabase); err != nil {
			return err
		}
		if err := schema.Migrate(ctx, ch, c.ClickHouseDatabase); err != nil {
			return err
		}
		logger.Info("clickhouse schema up to date", "database", c.ClickHouseDatabase)
	}
	if len(c.KafkaBrokers) > 0 {
		if err := topic.Ensure(ctx, c.KafkaBrokers, topic.Defaults(replication)); err != nil {
			return err
		}
		logger.Info("kafka topics ready", "topics", []string{topic.RequestLogs, topic.OrderEvents})
	}
	return nil
}
