-- Per-minute usage rollup for charts, fed by a materialized view on request_logs.
--
-- Every column outside the key is an aggregate state (AggregatingMergeTree merges states;
-- a plain column would keep an arbitrary row's value). Read with countMerge, sumMerge and
-- quantilesMerge(0.5, 0.95, 0.99). The view sees every inserted block, so a redelivered
-- batch (only after an ingest crash between insert and offset commit) is counted twice
-- here while request_logs folds it away: the rollup trades exactness in that rare case
-- for cheap charts; exact figures come from request_logs with dedup.
CREATE TABLE IF NOT EXISTS {{.DB}}.request_rollup_1m (
    minute DateTime,
    partner_id String,
    environment String,
    route String,
    status UInt16,
    requests AggregateFunction(count),
    errors AggregateFunction(sum, UInt64),
    bytes_in AggregateFunction(sum, UInt64),
    bytes_out AggregateFunction(sum, UInt64),
    latency_total_us AggregateFunction(quantiles(0.5, 0.95, 0.99), UInt64)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (partner_id, minute, environment, route, status);

-- errors counts responses with status 400 or above (denials included).
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.request_rollup_1m_mv
TO {{.DB}}.request_rollup_1m
AS SELECT
    toStartOfMinute(ts) AS minute,
    partner_id,
    environment,
    route,
    status,
    countState() AS requests,
    sumState(toUInt64(status >= 400)) AS errors,
    sumState(request_bytes) AS bytes_in,
    sumState(response_bytes) AS bytes_out,
    quantilesState(0.5, 0.95, 0.99)(latency_total_us) AS latency_total_us
FROM {{.DB}}.request_logs
GROUP BY minute, partner_id, environment, route, status;
