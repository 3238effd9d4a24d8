package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/control-plane/migration"
	"github.com/steller/platform/control-plane/webhook"
	"github.com/steller/platform/internal/testenv"
)

// `steller backfill milestones` as an operator runs it: on a migrated database whose
// partner predates milestones, it records signed_up and live_approved with source
// backfill, and a second run changes nothing.
func TestBackfillMilestonesCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pgURL := testenv.PostgresURL(t)
	pool, err := pgxpool.New(ctx, pgURL)
	require.NoError(t, err)
	defer pool.Close()
	_, err = migration.Up(ctx, pool, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, webhook.MigrateQueue(ctx, pool))
	ch := testenv.NewClickHouse(t)
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err = pool.Exec(ctx, `INSERT INTO partners (id, company, created_at, live_approved_at) VALUES ('ptr_old', 'Old Co', $1, $2)`,
		created, created.Add(time.Hour))
	require.NoError(t, err)

	args := []string{"steller", "backfill", "milestones", "--log-level", "warn", "--postgres-url", pgURL,
		"--clickhouse-addr", ch.Addr, "--clickhouse-database", ch.Database}
	for range 2 {
		require.NoError(t, rootCommand().Run(ctx, args))
		rows, err := pool.Query(ctx, `SELECT milestone || ' ' || to_char(reached_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' ' || event_id || ' ' || source
FROM onboarding_milestones ORDER BY milestone`)
		require.NoError(t, err)
		var got []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			got = append(got, s)
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, []string{"live_approved 2026-01-02 04:04:05 ptr_old backfill", "signed_up 2026-01-02 03:04:05 ptr_old backfill"}, got)
		var jobs int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'milestone_reached'`).Scan(&jobs))
		assert.Equal(t, 2, jobs, "one job per milestone, none for the rerun")
	}
}
