package main

import (
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/analytics/growthquery"
	"github.com/steller/platform/control-plane/api"
	"github.com/steller/platform/control-plane/growth"
)

// wireGrowth registers the admins' growth metrics (GET /v1/admin/growth) on a.
func wireGrowth(a *api.API, pool *pgxpool.Pool, ch driver.Conn, database string, logger *slog.Logger) error {
	wh, err := growthquery.New(ch, database)
	if err != nil {
		return err
	}
	svc, err := growth.New(growth.Config{Pool: pool, Warehouse: wh, Logger: logger})
	if err != nil {
		return err
	}
	growth.Register(a.Huma(), growth.Deps{Growth: svc, RBAC: a.Checker()})
	return nil
}
