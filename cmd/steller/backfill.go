package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v3"

	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/control-plane/milestone"
	"github.com/steller/platform/control-plane/milestone/backfill"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/config"
)

var backfillSpec = config.Spec{
	Settings: []string{config.LogLevel, config.LogFormat, config.PostgresURL,
		config.ClickHouseAddr, config.ClickHouseDatabase, config.ClickHouseUser, config.ClickHousePassword},
	Required: []string{config.PostgresURL, config.ClickHouseAddr},
}

// backfillCommand derives stored data into what later code expects; today milestones.
func backfillCommand() *cli.Command {
	return &cli.Command{
		Name:  "backfill",
		Usage: "derive data from what PostgreSQL and ClickHouse already hold",
		Commands: []*cli.Command{{
			Name:  "milestones",
			Usage: "record every activation milestone that stored rows show a partner reached (source backfill)",
			Description: "Walks the partners in chunks, one transaction each, printing partners done / total. " +
				"Safe to interrupt (Ctrl-C loses at most the chunk in flight) and to run again: a milestone " +
				"already stored, by the detector or an earlier run, is never changed.",
			Flags: backfillSpec.Flags(),
			Action: backfillSpec.Action(func(ctx context.Context, c config.Config) error {
				pool, err := pgxpool.New(ctx, c.PostgresURL)
				if err != nil {
					return err
				}
				defer pool.Close()
				ch, err := warehouse.Open(ctx, warehouse.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase, User: c.ClickHouseUser, Password: c.ClickHousePassword})
				if err != nil {
					return err
				}
				defer ch.Close()
				// Insert-only: the control plane's River client works the jobs.
				jobs, err := webhook.NewClient(webhook.ClientConfig{Pool: pool, Logger: c.Logger()})
				if err != nil {
					return err
				}
				res, err := backfill.Run(ctx, backfill.Config{Pool: pool, ClickHouse: ch, Database: c.ClickHouseDatabase,
					Jobs: jobs, Progress: os.Stdout, Logger: c.Logger()})
				if errors.Is(err, context.Canceled) {
					return fmt.Errorf("interrupted after %d of %d partners; run it again to finish (what is recorded stays)", res.Partners, res.Total)
				}
				if err != nil {
					return err
				}
				var parts []string
				total := 0
				for _, name := range milestone.Funnel {
					if n := res.Recorded[name]; n > 0 {
						parts = append(parts, fmt.Sprintf("%s %d", name, n))
						total += n
					}
				}
				detail := ""
				if len(parts) > 0 {
					detail = " (" + strings.Join(parts, ", ") + ")"
				}
				fmt.Fprintf(os.Stdout, "backfill milestones: done, %d partners, %d milestones recorded%s\n", res.Partners, total, detail)
				return nil
			}),
		}},
	}
}
