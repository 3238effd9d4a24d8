package keyuse_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/keyuse"
	"github.com/steller/platform/analytics/schema"
	"github.com/steller/platform/internal/testenv"
)

func TestQueryIsParameterised(t *testing.T) {
	t.Parallel()
	sql, args := keyuse.Query("steller", "ptr_1'; DROP TABLE x; --", []string{"key_a", "key_b"})
	assert.Equal(t, "SELECT key_id, max(timestamp_ms) FROM `steller`.request_logs WHERE partner_id = ? AND has(?, key_id) GROUP BY key_id", sql)
	assert.Equal(t, []any{"ptr_1'; DROP TABLE x; --", []string{"key_a", "key_b"}}, args)
}

func TestLastUsedReadsTheNewestRequestOfEachKeyOfThePartner(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	require.NoError(t, schema.Migrate(ctx, ch.Conn, ch.Database))
	batch, err := ch.Conn.PrepareBatch(ctx, "INSERT INTO "+ch.Database+".request_logs (ts, timestamp_ms, request_id, partner_id, key_id, ingested_at)")
	require.NoError(t, err)
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	rows := []struct {
		partner, key string
		at           time.Time
	}{
		{"ptr_1", "key_a", base},
		{"ptr_1", "key_a", base.Add(time.Hour)},
		{"ptr_1", "key_b", base.Add(2 * time.Hour)},
		{"ptr_2", "key_a", base.Add(5 * time.Hour)}, // another partner's row never leaks in
	}
	for i, r := range rows {
		require.NoError(t, batch.Append(r.at.Truncate(time.Second), uint64(r.at.UnixMilli()), "req_"+string(rune('a'+i)), r.partner, r.key, time.Now()))
	}
	require.NoError(t, batch.Send())

	l, err := keyuse.New(ch.Conn, ch.Database)
	require.NoError(t, err)
	got, err := l.LastUsed(ctx, "ptr_1", []string{"key_a", "key_b", "key_never"})
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"key_a": base.Add(time.Hour), "key_b": base.Add(2 * time.Hour)}, got)

	none, err := l.LastUsed(ctx, "ptr_1", nil)
	require.NoError(t, err)
	assert.Empty(t, none)
}
