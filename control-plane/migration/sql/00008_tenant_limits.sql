-- Tenant limits (issue 11, part 6): edge-feed versions drawn at commit, dead keys leaving
-- edges, and per-partner rate windows.
-- +goose Up

-- The edge feed's versions are drawn at commit, not at insert. A change is inserted with a
-- negative placeholder (never visible: only committed rows are, and every committed row has
-- had its real version set by then); a deferred constraint trigger, which PostgreSQL fires
-- at COMMIT after the transaction's own work, takes the feed's advisory lock
-- (control-plane/edgesync.FeedLockKey), draws the version from the feed's sequence and
-- announces it. The lock is released only after the commit is visible, so versions become
-- visible in the order they are drawn, and it is held only for the commit itself: key
-- changes of different partners no longer wait on one another's work
-- (control-plane/edgesync/feed.go says why this is correct).
CREATE SEQUENCE edge_changes_pending_seq;
ALTER TABLE edge_changes ALTER COLUMN version SET DEFAULT -nextval('edge_changes_pending_seq');

-- +goose StatementBegin
CREATE FUNCTION edge_changes_commit_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    committed bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(23455079676527954); -- 0x5354454c4c4552, "STELLER"
    UPDATE edge_changes SET version = nextval('edge_changes_version_seq')
    WHERE version = NEW.version
    RETURNING version INTO committed;
    PERFORM pg_notify('edge_changes', committed::text);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER edge_changes_commit_version AFTER INSERT ON edge_changes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION edge_changes_commit_version();

-- When the key's key_delete went to the edge feed: a key revoked or expired longer ago
-- than the dead-key grace is deleted from every edge once, and never published again.
ALTER TABLE api_keys ADD COLUMN edge_deleted_at timestamptz;
-- The keys still on edges that are dead (revoked, expired, or past a roll's grace), by
-- when they died: what the dead-key sweep and the snapshot look for.
CREATE INDEX api_keys_dead_on_edge_idx ON api_keys ((least(revoked_at, expires_at, grace_until)))
    WHERE edge_deleted_at IS NULL;
-- Counting a workspace's active keys (the key limit) reads only keys not revoked.
CREATE INDEX api_keys_active_idx ON api_keys (workspace_id) WHERE status = 'active';

-- Per-partner fixed-window rate limits (control-plane/quota): one row per partner and
-- action, counted with one atomic upsert, so the limit holds across control-plane
-- replicas. No foreign key: a partner's suspension (FOR UPDATE) must not wait on counters.
CREATE TABLE tenant_rate_windows (
    partner_id   text NOT NULL,
    action       text NOT NULL,
    window_start timestamptz NOT NULL,
    used         integer NOT NULL,
    PRIMARY KEY (partner_id, action)
);

-- +goose Down
DROP TABLE tenant_rate_windows;
DROP INDEX api_keys_active_idx;
DROP INDEX api_keys_dead_on_edge_idx;
ALTER TABLE api_keys DROP COLUMN edge_deleted_at;
DROP TRIGGER edge_changes_commit_version ON edge_changes;
DROP FUNCTION edge_changes_commit_version();
ALTER TABLE edge_changes ALTER COLUMN version SET DEFAULT nextval('edge_changes_version_seq');
DROP SEQUENCE edge_changes_pending_seq;
