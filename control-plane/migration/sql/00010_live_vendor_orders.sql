-- The live vendor stand-in's orders and its outbox of order events (control-plane/sandbox
-- in live mode, `steller live-vendor`): the upstream of live keys locally, in place of the
-- production gift-card API. The same shape as the sandbox's tables (00005), apart from
-- them so live orders never mix with test ones, with no balance (live orders are not paid
-- from fake money) and no magic outcomes: every live order is planned to complete.
-- +goose Up
CREATE TABLE live_orders (
    id              text PRIMARY KEY,
    partner_id      text NOT NULL REFERENCES partners (id),
    workspace_id    text NOT NULL,
    key_id          text NOT NULL,
    -- X-Request-Id of the edge request that created the order.
    request_id      text NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the canonical request body: a reused key with another body is refused.
    request_hash    bytea NOT NULL,
    product_id      text NOT NULL,
    amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
    currency        text NOT NULL,
    recipient       jsonb,
    metadata        jsonb,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed')),
    -- No magic values live: an order can only be planned to complete.
    planned_outcome text NOT NULL CHECK (planned_outcome = 'completed'),
    failure_reason  text,
    complete_after  timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    UNIQUE (partner_id, idempotency_key)
);
CREATE INDEX live_orders_due_idx ON live_orders (complete_after) WHERE status = 'pending';

CREATE TABLE live_order_outbox (
    id         bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    order_id   text NOT NULL REFERENCES live_orders (id),
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    sent_at    timestamptz
);
CREATE INDEX live_order_outbox_unsent_idx ON live_order_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX live_order_outbox_sent_idx ON live_order_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- +goose Down
DROP TABLE live_order_outbox;
DROP TABLE live_orders;
