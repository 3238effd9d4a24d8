// Package edgesync owns the control plane's side of the edge sync protocol
// (contract/edgewire/PROTOCOL.md): writing key and partner changes to the edge change
// feed (the edge_changes table) in the caller's transaction, serving the snapshot and the
// long-poll change feed to edges over HTTP, the one LISTEN connection per process that wakes
// waiting long-polls, and pruning old changes.
package edgesync

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
)

// NotifyChannel is the PostgreSQL notification channel on which every committed change
// announces its version.
const NotifyChannel = "edge_changes"

// feedLock is the key of the transaction-scoped advisory lock that serializes writers of
// the feed. Without it, a transaction holding version 10 could commit after one holding
// version 11, and an edge that already read 11 would never see 10. Taken right before the
// version is drawn and held until commit, it makes committed versions always a prefix of
// the drawn ones. Key changes are rare enough that one writer at a time costs nothing.
const feedLock int64 = 0x5354454c4c4552 // "STELLER"

const (
	lockSQL   = `SELECT pg_advisory_xact_lock($1)`
	appendSQL = `INSERT INTO edge_changes (type, payload) VALUES ($1, $2) RETURNING version`
	notifySQL = `SELECT pg_notify($1, $2)`
)

// PublishKey appends a key_upsert of k to the feed in tx. Call it last in the transaction:
// it holds the feed lock until commit.
func PublishKey(ctx context.Context, tx pgx.Tx, k edgewire.Key) (uint64, error) {
	return publish(ctx, tx, edgewire.KeyUpsert, k)
}

// PublishKeyDelete appends a key_delete of the key with hash h to the feed in tx (nothing
// deletes keys yet; for a future purge of long-dead keys). Call it last, as PublishKey.
func PublishKeyDelete(ctx context.Context, tx pgx.Tx, h keyformat.Hash) (uint64, error) {
	return publish(ctx, tx, edgewire.KeyDelete, h)
}

// PublishPartner appends a partner_upsert of p to the feed in tx. Call it last, as
// PublishKey.
func PublishPartner(ctx context.Context, tx pgx.Tx, p edgewire.Partner) (uint64, error) {
	return publish(ctx, tx, edgewire.PartnerUpsert, p)
}

func publish(ctx context.Context, tx pgx.Tx, typ edgewire.ChangeType, payload any) (uint64, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("edgesync: encode %s: %w", typ, err)
	}
	if _, err := tx.Exec(ctx, lockSQL, feedLock); err != nil {
		return 0, fmt.Errorf("edgesync: lock feed: %w", err)
	}
	var version int64
	if err := tx.QueryRow(ctx, appendSQL, string(typ), raw).Scan(&version); err != nil {
		return 0, fmt.Errorf("edgesync: append %s: %w", typ, err)
	}
	// Delivered to listeners only when tx commits, so a woken edge finds the change.
	if _, err := tx.Exec(ctx, notifySQL, NotifyChannel, strconv.FormatInt(version, 10)); err != nil {
		return 0, fmt.Errorf("edgesync: notify %s: %w", typ, err)
	}
	return uint64(version), nil
}
