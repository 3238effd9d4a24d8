package edgesync

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/steller/platform/contract/edgewire"
	"github.com/steller/platform/contract/keyformat"
)

const (
	// boundsSQL reads the oldest and newest change still held (0, 0 when none).
	boundsSQL = `SELECT coalesce(min(version), 0), coalesce(max(version), 0) FROM edge_changes`

	changesSQL = `SELECT version, type, payload FROM edge_changes
WHERE version > $1 ORDER BY version LIMIT $2`

	// snapshotKeysSQL leaves out the keys deleted from edges, and the keys dead (revoked,
	// expired or past a roll's grace) since before the cutoff $1 whose key_delete the sweep
	// has not written yet: an edge that has none of them denies them as invalid_key, which it
	// would do after the sweep's key_delete anyway.
	snapshotKeysSQL = `SELECT id, hash, partner_id, workspace_id, environment, roles, allowed_cidrs,
       status, expires_at, grace_until
FROM api_keys
WHERE edge_deleted_at IS NULL AND NOT coalesce(least(revoked_at, expires_at, grace_until) < $1, false)
ORDER BY id`

	// deadKeysSQL picks a batch of keys still on edges that died before the cutoff $1. SKIP
	// LOCKED: a key being changed right now is left to the next sweep, and its change
	// (which finds edge_deleted_at still empty) is published before the delete.
	deadKeysSQL = `SELECT id, hash FROM api_keys
WHERE edge_deleted_at IS NULL AND least(revoked_at, expires_at, grace_until) < $1
ORDER BY least(revoked_at, expires_at, grace_until), id LIMIT $2
FOR UPDATE SKIP LOCKED`

	// markDeletedSQL records that the keys' key_delete is in the feed: they are never
	// published again (apikey skips them).
	markDeletedSQL = `UPDATE api_keys SET edge_deleted_at = $2 WHERE id = ANY($1)`

	snapshotPartnersSQL = `SELECT id, status FROM partners ORDER BY id`

	// pruneSQL deletes changes older than the cutoff but always keeps the newest one, so the
	// feed's latest version survives pruning and edges at it are not sent to resync.
	pruneSQL = `DELETE FROM edge_changes
WHERE created_at < $1 AND version < (SELECT max(version) FROM edge_changes)`
)

// store reads the feed and the state it describes.
type store struct {
	pool *pgxpool.Pool
}

// bounds returns the oldest and newest version held in the feed.
func (s store) bounds(ctx context.Context) (oldest, latest uint64, err error) {
	var lo, hi int64
	if err := s.pool.QueryRow(ctx, boundsSQL).Scan(&lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("edgesync: feed bounds: %w", err)
	}
	return uint64(lo), uint64(hi), nil
}

// changesAfter returns up to limit changes with version > since, in version order.
func (s store) changesAfter(ctx context.Context, since uint64, limit int) ([]edgewire.Change, error) {
	rows, err := s.pool.Query(ctx, changesSQL, int64(since), limit)
	if err != nil {
		return nil, fmt.Errorf("edgesync: read changes: %w", err)
	}
	out := make([]edgewire.Change, 0)
	var (
		version int64
		typ     string
		payload []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&version, &typ, &payload}, func() error {
		c, err := decodeChange(uint64(version), edgewire.ChangeType(typ), payload)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("edgesync: read changes: %w", err)
	}
	return out, nil
}

func decodeChange(version uint64, typ edgewire.ChangeType, payload []byte) (edgewire.Change, error) {
	c := edgewire.Change{Version: version, Type: typ}
	var err error
	switch typ {
	case edgewire.KeyUpsert:
		c.Key = new(edgewire.Key)
		err = json.Unmarshal(payload, c.Key)
	case edgewire.KeyDelete:
		c.Hash = new(keyformat.Hash)
		err = json.Unmarshal(payload, c.Hash)
	case edgewire.PartnerUpsert:
		c.Partner = new(edgewire.Partner)
		err = json.Unmarshal(payload, c.Partner)
	default:
		err = fmt.Errorf("unknown type %q", typ)
	}
	if err != nil {
		return edgewire.Change{}, fmt.Errorf("change %d: %w", version, err)
	}
	return c, nil
}

// snapshot reads every key and partner and the feed's latest version in one REPEATABLE
// READ transaction, so the snapshot is the state after that version, less the keys dead
// since before deadCutoff (see snapshotKeysSQL).
func (s store) snapshot(ctx context.Context, now, deadCutoff time.Time) (edgewire.Snapshot, error) {
	snap := edgewire.Snapshot{GeneratedAt: now.UTC(), Keys: []edgewire.Key{}, Partners: []edgewire.Partner{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var lo, hi int64
		if err := tx.QueryRow(ctx, boundsSQL).Scan(&lo, &hi); err != nil {
			return err
		}
		snap.Version = uint64(hi)
		rows, err := tx.Query(ctx, snapshotKeysSQL, deadCutoff)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowToStructByName[KeyRow])
		if err != nil {
			return err
		}
		for _, r := range keys {
			k, err := r.Wire()
			if err != nil {
				return err
			}
			snap.Keys = append(snap.Keys, k)
		}
		rows, err = tx.Query(ctx, snapshotPartnersSQL)
		if err != nil {
			return err
		}
		var id, status string
		_, err = pgx.ForEachRow(rows, []any{&id, &status}, func() error {
			snap.Partners = append(snap.Partners, edgewire.Partner{ID: id, Status: edgewire.PartnerStatus(status)})
			return nil
		})
		return err
	})
	if err != nil {
		return edgewire.Snapshot{}, fmt.Errorf("edgesync: snapshot: %w", err)
	}
	return snap, nil
}

// KeyRow is the part of an api_keys row the edge needs; apikey's store selects these
// columns and turns them into the published Key with Wire.
type KeyRow struct {
	ID           string     `db:"id"`
	Hash         []byte     `db:"hash"`
	PartnerID    string     `db:"partner_id"`
	WorkspaceID  string     `db:"workspace_id"`
	Environment  string     `db:"environment"`
	Roles        []string   `db:"roles"`
	AllowedCIDRs []string   `db:"allowed_cidrs"`
	Status       string     `db:"status"`
	ExpiresAt    *time.Time `db:"expires_at"`
	GraceUntil   *time.Time `db:"grace_until"`
}

// Wire returns the row as the protocol's Key.
func (r KeyRow) Wire() (edgewire.Key, error) {
	k := edgewire.Key{
		KeyID: r.ID, PartnerID: r.PartnerID, WorkspaceID: r.WorkspaceID,
		Environment: keyformat.Environment(r.Environment), Roles: r.Roles, AllowedCIDRs: r.AllowedCIDRs,
		Status: edgewire.KeyStatus(r.Status), ExpiresAt: utc(r.ExpiresAt), GraceUntil: utc(r.GraceUntil),
	}
	if len(r.Hash) != len(k.Hash) {
		return edgewire.Key{}, fmt.Errorf("edgesync: key %s: hash of %d bytes", r.ID, len(r.Hash))
	}
	copy(k.Hash[:], r.Hash)
	if k.Roles == nil {
		k.Roles = []string{}
	}
	if k.AllowedCIDRs == nil {
		k.AllowedCIDRs = []string{}
	}
	return k, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Prune deletes changes created before cutoff (always keeping the newest) and returns how
// many it deleted. Edges whose version is older than what remains get 410 and resync.
func Prune(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) (int64, error) {
	tag, err := pool.Exec(ctx, pruneSQL, cutoff)
	if err != nil {
		return 0, fmt.Errorf("edgesync: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}

// deadKeyBatch bounds the keys one sweep transaction deletes from edges, so the
// transaction, and the feed lock at its commit, stay short.
const deadKeyBatch = 500

// DeleteDeadKeys writes a key_delete to the feed for every key revoked, expired or past a
// roll's grace before cutoff that edges still hold, and marks it so, in batches of
// deadKeyBatch; it returns how many it deleted. Edges then forget the keys (they fail as
// invalid_key instead of key_revoked or key_expired), and snapshots no longer carry them.
func DeleteDeadKeys(ctx context.Context, pool *pgxpool.Pool, cutoff, now time.Time) (int64, error) {
	var total int64
	for {
		var n int
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, deadKeysSQL, cutoff, deadKeyBatch)
			if err != nil {
				return err
			}
			var (
				id   string
				hash []byte
				ids  []string
			)
			var hashes []keyformat.Hash
			_, err = pgx.ForEachRow(rows, []any{&id, &hash}, func() error {
				var h keyformat.Hash
				if len(hash) != len(h) {
					return fmt.Errorf("key %s: hash of %d bytes", id, len(hash))
				}
				copy(h[:], hash)
				ids, hashes = append(ids, id), append(hashes, h)
				return nil
			})
			if err != nil {
				return err
			}
			for _, h := range hashes {
				if err := PublishKeyDelete(ctx, tx, h); err != nil {
					return err
				}
			}
			if len(ids) > 0 {
				if _, err := tx.Exec(ctx, markDeletedSQL, ids, now); err != nil {
					return err
				}
			}
			n = len(ids)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("edgesync: delete dead keys: %w", err)
		}
		total += int64(n)
		if n < deadKeyBatch {
			return total, nil
		}
	}
}
