-- Exact request and error counts in the rollup, even when the ingest redelivers a batch.
--
-- request_ids keeps the set of request ids of each cell (uniqExact state). Minute,
-- partner, environment, route and status all derive from the event, so every copy of a
-- redelivered request lands in the same cell, and uniqExactMerge(request_ids) over any
-- set of cells counts each request once: readers count requests and errors with it
-- (analytics/logquery). countMerge(requests), the byte sums and the latency quantiles
-- still see a copy twice; they are kept for cheap approximate figures.
--
-- On ClickHouse 18.16 a TO view that does not produce a column of its target table makes
-- every insert into request_logs fail ("Expected column request_ids: while pushing to
-- view") once the column exists. Such an insert has already stored its rows in
-- request_logs; the ingest retries the batch (at least once), and the copies are folded
-- by the dedup above. So the order is: add the column, replace the view, then backfill.
ALTER TABLE {{.DB}}.request_rollup_1m ADD COLUMN request_ids AggregateFunction(uniqExact, String);

-- DROP TABLE rather than DROP VIEW: 18.16 drops views only that way.
DROP TABLE IF EXISTS {{.DB}}.request_rollup_1m_mv;

-- The view of 0002 plus request_ids.
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
    quantilesState(0.5, 0.95, 0.99)(latency_total_us) AS latency_total_us,
    uniqExactState(request_id) AS request_ids
FROM {{.DB}}.request_logs
GROUP BY minute, partner_id, environment, route, status;

-- Backfill: cells rolled up before this migration (and rows stored between the DROP and
-- the CREATE above, which no view saw) get their request ids from request_logs. Only
-- request_ids is written; the other states stay empty, so no other figure changes. The
-- union of uniqExact states ignores ids a cell already has, which makes this statement
-- safe to run again (the runner re-runs a migration interrupted before its record).
-- It reads the whole retained request_logs once, grouped by cell.
INSERT INTO {{.DB}}.request_rollup_1m (minute, partner_id, environment, route, status, request_ids)
SELECT
    toStartOfMinute(ts) AS minute,
    partner_id,
    environment,
    route,
    status,
    uniqExactState(request_id) AS request_ids
FROM {{.DB}}.request_logs
GROUP BY minute, partner_id, environment, route, status;
