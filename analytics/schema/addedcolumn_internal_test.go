package schema

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/internal/testenv"
)

// addedColumn is a migration that adds a String column to request_logs, and the rows
// its test writes around it.
type addedColumn struct {
	version uint32
	column  string
	// value is what the two new rows store in the column (the same for both).
	value string
	// route and statuses are the rows' route and the statuses of the old row and the two
	// new ones.
	route    string
	statuses [3]uint16
}

// checkAddedColumn applies the migrations before c.version to a fresh database, stores one
// row, applies every migration twice (the second run a no-op), stores two rows with the
// column set to the same value, and requires the old row to read the column as "" and the
// new ones as the value, each row kept apart. It returns the database for more checks.
func checkAddedColumn(t *testing.T, c addedColumn) testenv.ClickHouse {
	t.Helper()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	all, err := Migrations()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(all), int(c.version))
	require.Equal(t, c.version, all[c.version-1].Version)
	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all[:c.version-1]))

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
	insert("", []any{ts, uint64(ts.UnixMilli()), "req_old", "ptr_1", c.route, c.statuses[0], uint8(1), ts})

	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all))
	require.NoError(t, migrate(ctx, ch.Conn, ch.Database, all), "a second run is a no-op")
	insert(", "+c.column,
		[]any{ts, uint64(ts.UnixMilli()), "req_new_1", "ptr_1", c.route, c.statuses[1], uint8(1), ts, c.value},
		[]any{ts, uint64(ts.UnixMilli()), "req_new_2", "ptr_1", c.route, c.statuses[2], uint8(1), ts, c.value},
	)

	rows, err := ch.Conn.Query(ctx, "SELECT request_id, "+c.column+" FROM "+db+".request_logs FINAL ORDER BY request_id")
	require.NoError(t, err)
	got := map[string]string{}
	for rows.Next() {
		var id, value string
		require.NoError(t, rows.Scan(&id, &value))
		got[id] = value
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, map[string]string{"req_old": "", "req_new_1": c.value, "req_new_2": c.value}, got)
	return ch
}
