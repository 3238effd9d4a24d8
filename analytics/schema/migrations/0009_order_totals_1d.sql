-- Exact daily order totals for closed days, so that reading revenue and volume does not
-- scale with the number of order events.
--
-- order_rollup_1d is exact under at-least-once delivery because each cell keeps the set
-- of its events, so every read merges sets as large as the events it covers. A day that
-- is over changes only when a late or replayed event for it arrives; its totals can be
-- computed once from the rollup and read as plain numbers. Three pieces:
--
-- order_days has one row per UTC day of order events, holding two times (both from the
-- ClickHouse server's clock): touched_at, the last time an inserted block carried an
-- event of that day (written by order_days_mv on every insert into order_events), and
-- computed_at, the last time that day's totals were computed (written by the closer,
-- analytics/ordertotals, after it wrote the totals). maxState cells merge to the latest.
--
-- order_totals_1d holds, per computation (computed_at) of a day, each cell's exact count
-- of distinct events and sum of amount_cents, read from the rollup's merged sets.
--
-- A day is closed when computed_at > touched_at: nothing reached it since its totals
-- were computed. Readers take a closed day's totals from the rows of its latest
-- computation ((day, computed_at) IN the closed days) and every other day from the rollup,
-- so a late event is counted from the moment it is stored, and the closer recomputes the
-- day on its next run. The closer writes computed_at a margin before it starts reading,
-- so an insert still in flight while it reads leaves the day open.
CREATE TABLE IF NOT EXISTS {{.DB}}.order_days (
    day Date,
    touched_at AggregateFunction(max, DateTime),
    computed_at AggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.order_days_mv
TO {{.DB}}.order_days
AS SELECT
    toDate(ts, 'UTC') AS day,
    maxState(now()) AS touched_at,
    maxState(toDateTime(0)) AS computed_at
FROM {{.DB}}.order_events
GROUP BY day;

-- The days of the events stored before the view existed: touched now, so the closer
-- computes each of them once.
INSERT INTO {{.DB}}.order_days (day, touched_at, computed_at)
SELECT toDate(ts, 'UTC') AS day, maxState(now()), maxState(toDateTime(0))
FROM {{.DB}}.order_events
GROUP BY day;

-- Key order puts environment and type first: the growth figures read two (environment,
-- type) pairs, which the primary index then finds without reading the others. A cell's
-- rows of older computations fold into the latest on merge (ReplacingMergeTree by
-- computed_at); until then readers skip them by their computed_at.
CREATE TABLE IF NOT EXISTS {{.DB}}.order_totals_1d (
    environment String,
    type String,
    day Date,
    partner_id String,
    product_id String,
    currency String,
    computed_at DateTime,
    orders UInt64,
    cents Int64
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (environment, type, day, partner_id, product_id, currency);
