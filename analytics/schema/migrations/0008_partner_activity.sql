-- Partner activity: which partners made at least one 2xx call at the edge in which UTC
-- day, week (from Monday) and month, per environment, fed by three materialized views on
-- request_logs (one per period) into one table.
--
-- It answers "was this partner active" (the growth metrics' weekly and monthly active
-- partners) from at most one row per partner, period and environment instead of one row
-- per request: 10,000 partners over 90 days make at most 900,000 day rows but 130,000
-- week rows and 40,000 month rows, and a report reads whole weeks and months from those
-- (and a period cut by its range's end from the day rows). A row only says the partner
-- was active, so it is exact under at-least-once delivery: a replayed batch writes the same
-- (period, bucket, partner_id, environment) again and ReplacingMergeTree folds the copies
-- on merge; before a merge, readers GROUP BY or uniqExact them away.
--
-- The table is not pruned by retention (schema.RetainedTables): it outlives the raw
-- request logs, so activity history stays when old requests are dropped.
CREATE TABLE IF NOT EXISTS {{.DB}}.partner_activity (
    period String,
    bucket Date,
    partner_id String,
    environment String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (period, bucket, partner_id, environment);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.partner_activity_day_mv
TO {{.DB}}.partner_activity
AS SELECT 'day' AS period, toDate(ts, 'UTC') AS bucket, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY bucket, partner_id, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.partner_activity_week_mv
TO {{.DB}}.partner_activity
AS SELECT 'week' AS period, toMonday(ts, 'UTC') AS bucket, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY bucket, partner_id, environment;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.partner_activity_month_mv
TO {{.DB}}.partner_activity
AS SELECT 'month' AS period, toStartOfMonth(ts, 'UTC') AS bucket, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY bucket, partner_id, environment;

-- The requests stored before the views existed. A request inserted between a view's
-- creation and these statements is written twice, which the engine folds.
INSERT INTO {{.DB}}.partner_activity (period, bucket, partner_id, environment)
SELECT 'day', toDate(ts, 'UTC') AS bucket, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY bucket, partner_id, environment;

INSERT INTO {{.DB}}.partner_activity (period, bucket, partner_id, environment)
SELECT 'week', toMonday(ts, 'UTC') AS bucket, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY bucket, partner_id, environment;

INSERT INTO {{.DB}}.partner_activity (period, bucket, partner_id, environment)
SELECT 'month', toStartOfMonth(ts, 'UTC') AS bucket, partner_id, environment
FROM {{.DB}}.request_logs
WHERE status >= 200 AND status < 300
GROUP BY bucket, partner_id, environment;
