package warehouse_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steller/platform/analytics/warehouse"
	"github.com/steller/platform/internal/testenv"
)

func TestQuoteIdentifier(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"steller":  "`steller`",
		"a`b":      "`a\\`b`",
		`back\tic`: "`back\\\\tic`",
	} {
		assert.Equal(t, want, warehouse.QuoteIdentifier(in))
	}
}

func TestEnsureDatabaseIsIdempotent(t *testing.T) {
	t.Parallel()
	ch := testenv.NewClickHouse(t)
	ctx := context.Background()
	name := ch.Database + "_extra"
	t.Cleanup(func() {
		_ = ch.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+warehouse.QuoteIdentifier(name))
	})

	require.NoError(t, warehouse.EnsureDatabase(ctx, ch.Conn, name))
	require.NoError(t, warehouse.EnsureDatabase(ctx, ch.Conn, name))
	var n uint64
	require.NoError(t, ch.Conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", name).Scan(&n))
	assert.Equal(t, uint64(1), n)
}

func TestOpenFailsClearlyWithoutAServer(t *testing.T) {
	t.Parallel()
	_, err := warehouse.Open(context.Background(), warehouse.Config{Addr: "127.0.0.1:1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
	_, err = warehouse.Open(context.Background(), warehouse.Config{})
	assert.ErrorContains(t, err, "address is required")
}
