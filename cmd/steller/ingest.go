package main

import (
	"context"
	"log/slog"

	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/ingest"
	"github.com/steller/platform/analytics/ordertotals"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/analytics/topic"
	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/config"
	"github.com/steller/platform/internal/server"
)

var ingestSpec = config.Spec{
	Settings: []string{
		config.LogLevel, config.LogFormat, config.KafkaBrokers,
		config.ClickHouseAddr, config.ClickHouseDatabase, config.ClickHouseUser, config.ClickHousePassword,
		config.IngestAddr, config.IngestGroup, config.IngestBatchSize, config.IngestFlush, config.RetentionDays,
		config.ShutdownTimeout, config.RequestLogTopic, config.OrderEventTopic,
	},
	Required: []string{config.KafkaBrokers, config.ClickHouseAddr},
}

func ingestCommand() *cli.Command {
	return &cli.Command{
		Name:  "ingest",
		Usage: "consume request-log and order events from Kafka into ClickHouse, total ended order periods, and drop expired partitions",
		Description: "At least once, idempotent storage: a batch is inserted, then its offsets are committed; " +
			"undecodable messages go to the dead-letter topic. Request logs use --ingest-group, order events " +
			"their own group (--ingest-group + \"-orders\"). Every ten minutes it computes the exact totals of " +
			"ended order days, weeks and months that changed (analytics/ordertotals). Run several: they share the consumer groups.",
		Flags: ingestSpec.Flags(),
		Action: ingestSpec.Action(func(ctx context.Context, c config.Config) error {
			in, err := newIngest(ctx, c, c.Logger())
			if err != nil {
				return err
			}
			defer in.Close()
			return in.Run(ctx)
		}),
	}
}

// newIngest connects ClickHouse, checks its schema is migrated, and wires the consumers,
// the retention loop, the order-totals closer and the ops server (whose registry carries the ingest's metrics).
func newIngest(ctx context.Context, c config.Config, logger *slog.Logger) (*service, error) {
	conn, err := warehouse.Open(ctx, warehouse.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase, User: c.ClickHouseUser, Password: c.ClickHousePassword})
	if err != nil {
		return nil, err
	}
	s := &service{close: func() { conn.Close() }}
	reg := server.NewRegistry()
	in, err := ingest.New(ingest.Config{
		Brokers: c.KafkaBrokers, Topic: c.RequestLogTopic, GroupID: c.IngestGroup, Conn: conn, Database: c.ClickHouseDatabase,
		BatchSize: c.IngestBatchSize, FlushInterval: c.IngestFlushInterval, StopTimeout: c.ShutdownTimeout,
		Registerer: reg, Logger: logger,
	})
	if err != nil {
		s.close()
		return nil, err
	}
	// Order events: the same machinery, its own consumer group, so neither stream's lag,
	// rebalances or offset resets touch the other.
	orders, err := ingest.New(ingest.Config{
		Stream: ingest.Orders, Brokers: c.KafkaBrokers, Topic: c.OrderEventTopic, GroupID: c.IngestGroup + "-orders",
		Conn: conn, Database: c.ClickHouseDatabase,
		BatchSize: c.IngestBatchSize, FlushInterval: c.IngestFlushInterval, StopTimeout: c.ShutdownTimeout,
		Registerer: reg, Logger: logger.With("stream", "orders"),
	})
	if err != nil {
		s.close()
		return nil, err
	}
	retention, err := schema.NewRetention(schema.RetentionConfig{Conn: conn, Database: c.ClickHouseDatabase, Days: c.RetentionDays, Logger: logger})
	if err != nil {
		s.close()
		return nil, err
	}
	s.ops, err = server.New(server.Config{
		Name: "ingest", Addr: c.IngestAddr, Logger: logger, Registry: reg, ShutdownTimeout: c.ShutdownTimeout,
		Checks: []server.Check{
			{Name: "clickhouse", Probe: conn.Ping},
			{Name: "kafka", Probe: func(ctx context.Context) error { return topic.Ping(ctx, c.KafkaBrokers) }},
		},
	})
	if err != nil {
		s.close()
		return nil, err
	}
	// The exact totals of ended order days, weeks and months, which the growth figures
	// read instead of the rollup's sets (analytics/ordertotals). Several ingests each run
	// it: harmless, a period computed twice has the same totals.
	closer, err := ordertotals.New(ordertotals.Config{Conn: conn, Database: c.ClickHouseDatabase, Logger: logger.With("job", "order-totals")})
	if err != nil {
		s.close()
		return nil, err
	}
	s.workers = []func(context.Context) error{in.Run, orders.Run, retention.Run, closer.Run}
	return s, nil
}
