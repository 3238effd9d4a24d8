package schema

import "testing"

// Migration 0007 adds idempotency_key_hash to a table that already has rows: they read as
// sent without a key, new rows store the hash, and rows sharing a hash stay separate
// requests.
func TestIdempotencyKeyHashMigrationKeepsOldRowsReadable(t *testing.T) {
	t.Parallel()
	checkAddedColumn(t, addedColumn{version: 7, column: "idempotency_key_hash", value: "0123456789abcdef",
		route: "orders.create", statuses: [3]uint16{201, 503, 201}})
}
