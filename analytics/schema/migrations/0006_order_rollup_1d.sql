-- Daily order rollup: revenue and volume per partner, environment, product, currency and
-- event type, fed by a materialized view on order_events.
--
-- Exact under at-least-once delivery. The view sees every inserted block, so a replayed
-- batch or a re-published event reaches it again; a sum or count state would count it
-- twice. Each cell keeps instead the set of its events as (event_id, amount_cents)
-- pairs (a groupUniqArray state). Every cell key derives from the event, so every copy of
-- an event lands in the same cell with the same pair, and the union of sets ignores it:
-- length(groupUniqArrayMerge(events)) is the number of distinct events and
-- arraySum(x -> x.2, groupUniqArrayMerge(events)) their exact sum in cents, however many
-- times each was delivered (analytics/orderquery reads it so). The ids are kept whole, not
-- hashed, so no collision can hide an event. The set is as large as the cell's events:
-- the rollup saves reading and deduplicating the wide table, not the ids.
--
-- The event type is part of the key (rather than one -If state per type, whose
-- AggregateFunction(groupUniqArrayIf, ...) type is not groupUniqArray's): readers pivot
-- order.created (volume), order.completed (revenue) and order.failed.
--
-- day is the UTC day of occurred_at: an order's volume counts on the day it was created,
-- its revenue on the day it completed. Amounts are in minor units of currency, which is
-- in the key so that no figure adds two currencies.
CREATE TABLE IF NOT EXISTS {{.DB}}.order_rollup_1d (
    day Date,
    partner_id String,
    environment String,
    product_id String,
    currency String,
    type String,
    events AggregateFunction(groupUniqArray, Tuple(String, Int64))
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (partner_id, day, environment, product_id, currency, type);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.DB}}.order_rollup_1d_mv
TO {{.DB}}.order_rollup_1d
AS SELECT
    toDate(ts, 'UTC') AS day,
    partner_id,
    environment,
    product_id,
    currency,
    type,
    groupUniqArrayState((event_id, amount_cents)) AS events
FROM {{.DB}}.order_events
GROUP BY day, partner_id, environment, product_id, currency, type;
