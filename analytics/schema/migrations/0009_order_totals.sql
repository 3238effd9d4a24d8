-- Exact order totals of closed days, weeks and months, so that reading revenue and volume
-- does not scale with the number of order events.
--
-- order_rollup_1d is exact under at-least-once delivery because each cell keeps the set
-- of its events, so every read merges sets as large as the events it covers. A period
-- that is over changes only when a late or replayed event of it arrives; its totals can
-- be computed once from the rollup and read as plain numbers. Three pieces:
--
-- order_periods has one row per period (day, week from Monday, month) and UTC bucket of
-- order events, holding two times (both from the ClickHouse server's clock): touched_at,
-- the last time an inserted block carried an event of that period (written by its three
-- views on every insert into order_events), and computed_at, the last time the period's
-- totals were computed (written by the closer, analytics/ordertotals, after it wrote the
-- totals). maxState cells merge to the latest.
--
-- order_totals holds, per computation (computed_at) of a period, each rollup cell's exact
-- count of distinct events and sum of amount_cents over the period's days, read from the
-- rollup's merged sets.
--
-- A period is closed when computed_at > touched_at: nothing reached it since its totals
-- were computed. Readers take a closed period's totals from the rows of its latest
-- computation ((bucket, computed_at) IN the closed buckets) and every other period from
-- the rollup, so a late event is counted from the moment it is stored, and the closer
-- recomputes the period on its next run. The closer dates a computation a margin before
-- it starts reading, so an insert still in flight while it reads leaves the period open.
CREATE TABLE IF NOT EXISTS {{.DB}}.order_periods (
    period String,
    bucket Date,
    touched_at AggregateFunction(max, DateTime),
    computed_at AggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (period, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.order_periods_day_mv
TO {{.DB}}.order_periods
AS SELECT 'day' AS period, toDate(ts, 'UTC') AS bucket,
    maxState(now()) AS touched_at, maxState(toDateTime(0)) AS computed_at
FROM {{.DB}}.order_events
GROUP BY bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.order_periods_week_mv
TO {{.DB}}.order_periods
AS SELECT 'week' AS period, toMonday(ts, 'UTC') AS bucket,
    maxState(now()) AS touched_at, maxState(toDateTime(0)) AS computed_at
FROM {{.DB}}.order_events
GROUP BY bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.order_periods_month_mv
TO {{.DB}}.order_periods
AS SELECT 'month' AS period, toStartOfMonth(ts, 'UTC') AS bucket,
    maxState(now()) AS touched_at, maxState(toDateTime(0)) AS computed_at
FROM {{.DB}}.order_events
GROUP BY bucket;

-- The periods of the events stored before the views existed: touched now, so the closer
-- computes each of them once.
INSERT INTO {{.DB}}.order_periods (period, bucket, touched_at, computed_at)
SELECT 'day', toDate(ts, 'UTC') AS bucket, maxState(now()), maxState(toDateTime(0))
FROM {{.DB}}.order_events
GROUP BY bucket;

INSERT INTO {{.DB}}.order_periods (period, bucket, touched_at, computed_at)
SELECT 'week', toMonday(ts, 'UTC') AS bucket, maxState(now()), maxState(toDateTime(0))
FROM {{.DB}}.order_events
GROUP BY bucket;

INSERT INTO {{.DB}}.order_periods (period, bucket, touched_at, computed_at)
SELECT 'month', toStartOfMonth(ts, 'UTC') AS bucket, maxState(now()), maxState(toDateTime(0))
FROM {{.DB}}.order_events
GROUP BY bucket;

-- Key order puts period, environment and type first: the growth figures read one period
-- and two (environment, type) pairs, which the primary index then finds without reading
-- the others. A cell's rows of older computations fold into the latest on merge
-- (ReplacingMergeTree by computed_at); until then readers skip them by their computed_at.
CREATE TABLE IF NOT EXISTS {{.DB}}.order_totals (
    period String,
    environment String,
    type String,
    bucket Date,
    partner_id String,
    product_id String,
    currency String,
    computed_at DateTime,
    orders UInt64,
    cents Int64
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(bucket)
ORDER BY (period, environment, type, bucket, partner_id, product_id, currency);
