-- One row per edge request (requestlog.Event v1) plus when the ingest stored it.
--
-- ts is the event time truncated to the second (DateTime: DateTime64 does not exist on
-- ClickHouse 18.16); timestamp_ms keeps the exact Unix milliseconds from the event.
-- Both derive from the event alone, so a redelivered event gets the same sorting key
-- (partner_id, ts, request_id) and ReplacingMergeTree folds the copies together on merge.
-- Until a merge happens, readers deduplicate with FINAL or LIMIT 1 BY request_id.
CREATE TABLE IF NOT EXISTS {{.DB}}.request_logs (
    ts DateTime,
    timestamp_ms UInt64,
    request_id String,
    partner_id String,
    workspace_id String,
    key_id String,
    environment String,
    method String,
    path String,
    route String,
    status UInt16,
    latency_total_us UInt64,
    latency_upstream_us UInt64,
    latency_edge_us UInt64,
    client_ip String,
    user_agent String,
    request_bytes UInt64,
    response_bytes UInt64,
    decision String,
    denial_code String,
    schema_version UInt8,
    ingested_at DateTime
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ts)
ORDER BY (partner_id, ts, request_id);
