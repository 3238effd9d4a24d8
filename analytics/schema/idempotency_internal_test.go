package schema

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/testenv"
)

// Migration 0007 adds idempotency_key_hash to a table that already has rows: they read as
// sent without a key, new rows store the hash, and rows sharing a hash stay separate
// requests.
func TestIdempotencyKeyHashMigrationKeepsOldRowsReadable(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	all, err := Migrations()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), 7)
	require.Equal(t, uint32(7), all[6].Version)
	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all[:6]))

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
	insert("", []any{ts, uint64(ts.UnixMilli()), "req_old", "ptr_1", "orders.create", uint16(201), uint8(1), ts})

	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all))
	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all), "a second run is a no-op")
	insert(", idempotency_key_hash",
		[]any{ts, uint64(ts.UnixMilli()), "req_new_1", "ptr_1", "orders.create", uint16(503), uint8(1), ts, "0123456789abcdef"},
		[]any{ts, uint64(ts.UnixMilli()), "req_new_2", "ptr_1", "orders.create", uint16(201), uint8(1), ts, "0123456789abcdef"},
	)

	rows, err := ch.Conn.Query(ctx, "SELECT request_id, idempotency_key_hash FROM "+db+".request_logs FINAL ORDER BY request_id")
	require.NoError(t, err)
	got := map[string]string{}
	for rows.Next() {
		var id, hash string
		require.NoError(t, rows.Scan(&id, &hash))
		got[id] = hash
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, map[string]string{"req_old": "", "req_new_1": "0123456789abcdef", "req_new_2": "0123456789abcdef"}, got)
}
