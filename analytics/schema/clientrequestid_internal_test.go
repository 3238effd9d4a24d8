package schema

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/testenv"
)

// Migration 0004 adds client_request_id to a table that already has rows: they stay
// readable (as no client id), new rows store it, and the rollup still counts by the edge's
// request id, so rows sharing a client id are all counted.
func TestClientRequestIDMigrationKeepsOldRowsReadable(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	all, err := Migrations()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), 4)
	require.Equal(t, uint32(4), all[3].Version)
	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all[:3]))

	db := "`" + ch.Database + "`"
	ts := time.Now().UTC().Truncate(time.Second)
	insert := func(columns string, values ...[]any) {
		t.Helper()
		b, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+db+".request_logs (ts, timestamp_ms, request_id, partner_id, route, status, schema_version, ingested_at"+columns+")")
		require.NoError(t, err)
		for _, v := range values {
			require.NoError(t, b.Append(v...))
		}
		require.NoError(t, b.Send())
	}
	insert("", []any{ts, uint64(ts.UnixMilli()), "req_old", "ptr_1", "catalog.list", uint16(200), uint8(1), ts})

	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all))
	insert(", client_request_id",
		[]any{ts, uint64(ts.UnixMilli()), "req_new_1", "ptr_1", "catalog.list", uint16(200), uint8(1), ts, "cli-same"},
		[]any{ts, uint64(ts.UnixMilli()), "req_new_2", "ptr_1", "catalog.list", uint16(200), uint8(1), ts, "cli-same"},
	)

	rows, err := ch.Conn.Query(ctx, "SELECT request_id, client_request_id FROM "+db+".request_logs FINAL ORDER BY request_id")
	require.NoError(t, err)
	got := map[string]string{}
	for rows.Next() {
		var id, client string
		require.NoError(t, rows.Scan(&id, &client))
		got[id] = client
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, map[string]string{"req_old": "", "req_new_1": "cli-same", "req_new_2": "cli-same"}, got)

	var requests uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT uniqExactMerge(request_ids) FROM "+db+".request_rollup_1m WHERE partner_id = 'ptr_1'").Scan(&requests))
	assert.Equal(t, uint64(3), requests, "the rollup counts edge request ids, not client ids")
}
