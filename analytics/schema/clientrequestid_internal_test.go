package schema

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Migration 0004 adds client_request_id to a table that already has rows: they stay
// readable (as no client id), new rows store it, and the rollup still counts by the edge's
// request id, so rows sharing a client id are all counted.
func TestClientRequestIDMigrationKeepsOldRowsReadable(t *testing.T) {
	t.Parallel()
	ch := checkAddedColumn(t, addedColumn{version: 4, column: "client_request_id", value: "cli-same",
		route: "catalog.list", statuses: [3]uint16{200, 200, 200}})

	var requests uint64
	require.NoError(t, ch.Conn.QueryRow(context.Background(), "SELECT uniqExactMerge(request_ids) FROM `"+ch.Database+
		"`.request_rollup_1m WHERE partner_id = 'ptr_1'").Scan(&requests))
	assert.Equal(t, uint64(3), requests, "the rollup counts edge request ids, not client ids")
}
