// Package edgesync owns the control plane's side of the edge sync protocol
// (contract/edgewire/PROTOCOL.md): writing key and partner changes to the edge change
// feed (the edge_changes table) in the caller's transaction, serving the snapshot and the
// long-poll change feed to edges over HTTP, the one LISTEN connection per process that wakes
// waiting long-polls, pruning old changes, and deleting long-dead keys from edges.
package edgesync

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
)

// NotifyChannel is the PostgreSQL notification channel on which every committed change
// announces its version (the commit trigger of migration 00008 sends it).
const NotifyChannel = "edge_changes"

// FeedLockKey is the key of the transaction-scoped advisory lock that orders the feed's
// versions. Exported for tests that observe or emulate it; the trigger names the same
// number.
//
// Why the feed needs it: an edge reads changes with version > the one it holds. If a
// transaction holding version 10 could commit after one holding version 11, an edge that
// already read 11 would never see 10. So versions must become visible in the order they
// are drawn.
//
// How it is kept, and why briefly: a change is inserted with a placeholder version, and a
// deferred constraint trigger (edge_changes_commit_version) draws the real one when the
// transaction commits, after all of its own work: it takes this lock, sets the version
// from the feed's sequence and queues the NOTIFY. PostgreSQL releases a transaction's
// locks only after its commit is visible to others, so the next writer to take the lock
// draws a higher version and becomes visible later: visible versions are always a prefix
// of the drawn ones (gaps from rolled-back writers are harmless, readers ask for "greater
// than"). Writers wait on one another only for that last step, drawing the version and
// committing, which is exactly the order the feed needs; a key creation's partner read,
// key insert and audit entry, or a signup's session, run outside it, so changes of
// different partners proceed side by side. The order of changes to one key or partner
// follows their row locks (FOR UPDATE, FOR SHARE): the later writer waits for the earlier
// one's commit, then commits later and draws a later version.
const FeedLockKey int64 = 0x5354454c4c4552 // "STELLER"

const appendSQL = `INSERT INTO edge_changes (type, payload) VALUES ($1, $2)`

// PublishKey appends a key_upsert of k to the feed in tx; its version is drawn when tx
// commits, so it may be called anywhere in the transaction.
func PublishKey(ctx context.Context, tx pgx.Tx, k edgewire.Key) error {
	return publish(ctx, tx, edgewire.KeyUpsert, k)
}

// PublishKeyDelete appends a key_delete of the key with hash h to the feed in tx: edges
// forget the key (it then fails as invalid_key). The dead-key sweep (DeleteDeadKeys) uses it.
func PublishKeyDelete(ctx context.Context, tx pgx.Tx, h keyformat.Hash) error {
	return publish(ctx, tx, edgewire.KeyDelete, h)
}

// PublishPartner appends a partner_upsert of p to the feed in tx, as PublishKey.
func PublishPartner(ctx context.Context, tx pgx.Tx, p edgewire.Partner) error {
	return publish(ctx, tx, edgewire.PartnerUpsert, p)
}

func publish(ctx context.Context, tx pgx.Tx, typ edgewire.ChangeType, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("edgesync: encode %s: %w", typ, err)
	}
	if _, err := tx.Exec(ctx, appendSQL, string(typ), raw); err != nil {
		return fmt.Errorf("edgesync: append %s: %w", typ, err)
	}
	return nil
}
