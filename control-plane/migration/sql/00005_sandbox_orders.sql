-- The sandbox vendor's orders and its transactional outbox of order events
-- (control-plane/sandbox). The balance they debit is sandbox_accounts (00002).
-- +goose Up
CREATE TABLE sandbox_orders (
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
    -- What the worker will do when complete_after passes: 'completed' or a failure reason
    -- (decided at creation from the magic values, so a restart cannot change it).
    planned_outcome text NOT NULL,
    failure_reason  text,
    complete_after  timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    UNIQUE (partner_id, idempotency_key)
);
-- The lifecycle worker's queue: pending orders by due time.
CREATE INDEX sandbox_orders_due_idx ON sandbox_orders (complete_after) WHERE status = 'pending';

-- Order events waiting for Kafka, written in the same transaction as the change they
-- describe; the publisher sends them in id order and sets sent_at once Kafka acknowledged.
CREATE TABLE sandbox_order_outbox (
    id         bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    order_id   text NOT NULL REFERENCES sandbox_orders (id),
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    sent_at    timestamptz
);
CREATE INDEX sandbox_order_outbox_unsent_idx ON sandbox_order_outbox (id) WHERE sent_at IS NULL;
CREATE INDEX sandbox_order_outbox_sent_idx ON sandbox_order_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- +goose Down
DROP TABLE sandbox_order_outbox;
DROP TABLE sandbox_orders;
