package schema_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/internal/testenv"
)

func TestMigrationStatementsQuoteTheDatabase(t *testing.T) {
	t.Parallel()
	migrations, err := schema.Migrations()
	require.NoError(t, err)
	require.Len(t, migrations, 9)

	cases := []struct {
		version  uint32
		name     string
		prefixes []string
	}{
		{1, "0001_request_logs.sql", []string{"CREATE TABLE IF NOT EXISTS `we\\`ird`.request_logs (\n    ts DateTime,"}},
		{2, "0002_request_rollup_1m.sql", []string{
			"CREATE TABLE IF NOT EXISTS `we\\`ird`.request_rollup_1m (\n    minute DateTime,",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.request_rollup_1m_mv\nTO `we\\`ird`.request_rollup_1m\nAS SELECT",
		}},
		{3, "0003_rollup_request_ids.sql", []string{
			"ALTER TABLE `we\\`ird`.request_rollup_1m ADD COLUMN request_ids AggregateFunction(uniqExact, String)",
			"DROP TABLE IF EXISTS `we\\`ird`.request_rollup_1m_mv",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.request_rollup_1m_mv\nTO `we\\`ird`.request_rollup_1m\nAS SELECT",
			"INSERT INTO `we\\`ird`.request_rollup_1m (minute, partner_id, environment, route, status, request_ids)\nSELECT",
		}},
		{4, "0004_client_request_id.sql", []string{
			"ALTER TABLE `we\\`ird`.request_logs ADD COLUMN client_request_id String DEFAULT '' AFTER request_id",
		}},
		{5, "0005_order_events.sql", []string{"CREATE TABLE IF NOT EXISTS `we\\`ird`.order_events (\n    ts DateTime,"}},
		{6, "0006_order_rollup_1d.sql", []string{
			"CREATE TABLE IF NOT EXISTS `we\\`ird`.order_rollup_1d (\n    day Date,",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.order_rollup_1d_mv\nTO `we\\`ird`.order_rollup_1d\nAS SELECT",
		}},
		{7, "0007_idempotency_key_hash.sql", []string{
			"ALTER TABLE `we\\`ird`.request_logs ADD COLUMN idempotency_key_hash String DEFAULT '' AFTER denial_code",
		}},
		{8, "0008_partner_activity.sql", []string{
			"CREATE TABLE IF NOT EXISTS `we\\`ird`.partner_activity (\n    period String,",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.partner_activity_day_mv\nTO `we\\`ird`.partner_activity\nAS SELECT 'day'",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.partner_activity_week_mv\nTO `we\\`ird`.partner_activity\nAS SELECT 'week'",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.partner_activity_month_mv\nTO `we\\`ird`.partner_activity\nAS SELECT 'month'",
			"INSERT INTO `we\\`ird`.partner_activity (period, bucket, partner_id, environment)\nSELECT 'day'",
			"INSERT INTO `we\\`ird`.partner_activity (period, bucket, partner_id, environment)\nSELECT 'week'",
			"INSERT INTO `we\\`ird`.partner_activity (period, bucket, partner_id, environment)\nSELECT 'month'",
		}},
		{9, "0009_order_totals.sql", []string{
			"CREATE TABLE IF NOT EXISTS `we\\`ird`.order_periods (\n    period String,",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.order_periods_day_mv\nTO `we\\`ird`.order_periods\nAS SELECT 'day'",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.order_periods_week_mv\nTO `we\\`ird`.order_periods\nAS SELECT 'week'",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS `we\\`ird`.order_periods_month_mv\nTO `we\\`ird`.order_periods\nAS SELECT 'month'",
			"INSERT INTO `we\\`ird`.order_periods (period, bucket, touched_at, computed_at)\nSELECT 'day'",
			"INSERT INTO `we\\`ird`.order_periods (period, bucket, touched_at, computed_at)\nSELECT 'week'",
			"INSERT INTO `we\\`ird`.order_periods (period, bucket, touched_at, computed_at)\nSELECT 'month'",
			"CREATE TABLE IF NOT EXISTS `we\\`ird`.order_totals (\n    period String,",
		}},
	}
	for i, tc := range cases {
		m := migrations[i]
		assert.Equal(t, tc.version, m.Version)
		assert.Equal(t, tc.name, m.Name)
		stmts, err := m.Statements("we`ird")
		require.NoError(t, err)
		require.Len(t, stmts, len(tc.prefixes), m.Name)
		for j, prefix := range tc.prefixes {
			assert.True(t, strings.HasPrefix(stmts[j], prefix), "%s statement %d:\n%s", m.Name, j, stmts[j])
			assert.NotContains(t, stmts[j], "--", "comments are stripped")
			assert.NotContains(t, stmts[j], "{{", "template fully rendered")
		}
	}
}

func TestMigrateCreatesTablesOnceAndRecordsVersions(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database), "a second run must be a no-op")

	versions, err := schema.AppliedVersions(ctx, ch.Conn, ch.Database)
	require.NoError(t, err)
	assert.Equal(t, []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9}, versions)
	var records uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM `"+ch.Database+"`.schema_migrations").Scan(&records))
	assert.Equal(t, uint64(9), records, "the second run recorded nothing")

	rows, err := ch.Conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", ch.Database)
	require.NoError(t, err)
	got := map[string]string{}
	for rows.Next() {
		var name, engine string
		require.NoError(t, rows.Scan(&name, &engine))
		got[name] = engine
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, map[string]string{
		"order_events":              "ReplacingMergeTree",
		"order_rollup_1d":           "AggregatingMergeTree",
		"order_rollup_1d_mv":        "MaterializedView",
		"order_periods":             "AggregatingMergeTree",
		"order_periods_day_mv":      "MaterializedView",
		"order_periods_month_mv":    "MaterializedView",
		"order_periods_week_mv":     "MaterializedView",
		"order_totals":              "ReplacingMergeTree",
		"partner_activity":          "ReplacingMergeTree",
		"partner_activity_day_mv":   "MaterializedView",
		"partner_activity_month_mv": "MaterializedView",
		"partner_activity_week_mv":  "MaterializedView",
		"request_logs":              "ReplacingMergeTree",
		"request_rollup_1m":         "AggregatingMergeTree",
		"request_rollup_1m_mv":      "MaterializedView",
		"schema_migrations":         "MergeTree",
	}, got)
}

func TestMigrateRejectsMissingArguments(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	assert.ErrorContains(t, schema.Migrate(context.Background(), nil, "x"), "needs a connection")
	assert.ErrorContains(t, schema.Migrate(context.Background(), ch.Conn, ""), "needs a connection and a database")
}

// row is one request_logs row for tests, with the fields the assertions look at.
type row struct {
	ts        time.Time
	requestID string
	partner   string
	route     string
	status    uint16
	latencyUs uint64
	bytesIn   uint64
	bytesOut  uint64
}

// insertRows writes rows the way the ingest does: one column-named batch.
func insertRows(t *testing.T, ch testenv.ClickHouse, rows []row) {
	t.Helper()
	ctx := context.Background()
	batch, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO `"+ch.Database+"`.request_logs"+
		" (ts, timestamp_ms, request_id, partner_id, workspace_id, key_id, environment, method, path, route, status,"+
		" latency_total_us, latency_upstream_us, latency_edge_us, client_ip, user_agent, request_bytes, response_bytes,"+
		" decision, denial_code, schema_version, ingested_at)")
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, batch.Append(r.ts.Truncate(time.Second), uint64(r.ts.UnixMilli()), r.requestID, r.partner, "ws_1", "key_1",
			"test", "GET", "/v1/catalog", r.route, r.status, r.latencyUs, r.latencyUs/2, r.latencyUs/2, "10.0.0.1", "go-test",
			r.bytesIn, r.bytesOut, "allow", "", uint8(1), time.Now().UTC()))
	}
	require.NoError(t, batch.Send())
}

func TestDuplicatesAreHiddenByQueryTimeDedupButCountedTwiceInTheRollup(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))

	minute := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	var rows []row
	for i := range 100 {
		status := uint16(200)
		if i%10 == 0 {
			status = 500
		}
		rows = append(rows, row{
			ts: minute.Add(time.Duration(i) * 100 * time.Millisecond), requestID: fmt.Sprintf("req_%03d", i),
			partner: "ptr_1", route: "catalog.list", status: status, latencyUs: uint64(i+1) * 1000, bytesIn: 10, bytesOut: 100,
		})
	}
	insertRows(t, ch, rows)
	insertRows(t, ch, rows[:30]) // a redelivered part of the batch

	db := "`" + ch.Database + "`"
	var raw, final, limitBy, uniq uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM "+db+".request_logs").Scan(&raw))
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM "+db+".request_logs FINAL").Scan(&final))
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM "+schema.DedupSubquery(ch.Database, "partner_id = ?"), "ptr_1").Scan(&limitBy))
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT uniqExact(request_id) FROM "+db+".request_logs").Scan(&uniq))
	assert.Contains(t, []uint64{100, 130}, raw, "raw rows: 130 until a merge folds the copies")
	assert.Equal(t, uint64(100), final)
	assert.Equal(t, uint64(100), limitBy)
	assert.Equal(t, uint64(100), uniq)

	var requests, errs, bytesIn, bytesOut uint64
	var quantiles []float64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT countMerge(requests), sumMerge(errors), sumMerge(bytes_in), sumMerge(bytes_out),"+
		" quantilesMerge(0.5, 0.95, 0.99)(latency_total_us) FROM "+db+".request_rollup_1m WHERE partner_id = ? AND minute = ?", "ptr_1", minute).
		Scan(&requests, &errs, &bytesIn, &bytesOut, &quantiles))
	assert.Equal(t, uint64(130), requests, "the view counts every inserted copy")
	assert.Equal(t, uint64(10+3), errs)
	assert.Equal(t, uint64(1300), bytesIn)
	assert.Equal(t, uint64(13000), bytesOut)
	require.Len(t, quantiles, 3)
	assert.InDelta(t, 45_000, quantiles[0], 10_000, "median latency")
	assert.InDelta(t, 95_000, quantiles[1], 5_000)
	assert.InDelta(t, 99_000, quantiles[2], 2_000)

	// Migration 0003: the request id sets count each request once.
	var exact, exactErrors uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT uniqExactMerge(request_ids), uniqExactMergeIf(request_ids, status >= 400) FROM "+db+
		".request_rollup_1m WHERE partner_id = ? AND minute = ?", "ptr_1", minute).Scan(&exact, &exactErrors))
	assert.Equal(t, uint64(100), exact)
	assert.Equal(t, uint64(10), exactErrors)
}

func TestDedupSubquery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		where, want string
	}{
		{"", "(SELECT * FROM `db`.request_logs LIMIT 1 BY request_id)"},
		{"partner_id = ? AND ts >= ?", "(SELECT * FROM `db`.request_logs WHERE partner_id = ? AND ts >= ? LIMIT 1 BY request_id)"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, schema.DedupSubquery("db", tc.where))
	}
}
