-- Daily partner activity: which partners made at least one 2xx call at the edge on which
-- UTC day and in which environment, fed by a materialized view on request_logs.
--
-- It answers "was this partner active" (the growth metrics' weekly and monthly active
-- partners) from at most one row per partner, day and environment instead of one row per
-- request. A row only says the partner was active, so it is exact under at-least-once
-- delivery: a replayed batch writes the same (day, partner_id, environment) again and
-- ReplacingMergeTree folds the copies on merge; before a merge, readers GROUP BY the key.
--
-- The table is not pruned by retention (schema.RetainedTables): it outlives the raw
-- request logs, so activity history stays when old requests are dropped.
CREATE TABLE IF NOT EXISTS {{.DB}}.partner_activity_1d (
    day Date,
    partner_id String,
    environment String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, partner_id, environment);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.partner_activity_1d_mv
TO {{.DB}}.partner_activity_1d
AS SELECT
    toDate(ts, 'UTC') AS day,
    partner_id,
    environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY day, partner_id, environment;

-- The requests stored before the view existed. A request inserted between the view's
-- creation and this statement is written twice, which the engine folds.
INSERT INTO {{.DB}}.partner_activity_1d (day, partner_id, environment)
SELECT toDate(ts, 'UTC') AS day, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY day, partner_id, environment;
