-- The orders table: one row per order event (orderevent.Event v1, a state change of an
-- order: created, completed or failed), sandbox and live, plus when the ingest stored it.
--
-- Delivery is at least once (the ingest commits offsets after the insert, and producers
-- re-publish from their outboxes), so an event can be stored more than once. event_id is
-- its identity: ts (the second of occurred_at_ms), partner_id and event_id all come from
-- the event, so every copy has the same sorting key and ReplacingMergeTree folds the
-- copies on merge. Until a merge, readers deduplicate with FINAL or LIMIT 1 BY event_id.
--
-- Amounts are exact: Int64 minor units (cents) of currency, as in the event, never a
-- float. Times are Unix milliseconds as in the event (DateTime64 does not exist on
-- ClickHouse 18.16); ts is the DateTime used for partitions, the key and range filters.
CREATE TABLE IF NOT EXISTS {{.DB}}.order_events (
    ts DateTime,
    occurred_at_ms Int64,
    event_id String,
    type String,
    order_id String,
    partner_id String,
    workspace_id String,
    environment String,
    product_id String,
    amount_cents Int64,
    currency String,
    failure_reason String,
    order_created_at_ms Int64,
    request_id String,
    schema_version UInt8,
    ingested_at DateTime
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (partner_id, ts, event_id);
