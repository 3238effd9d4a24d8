-- Webhook endpoints, the deliveries of order events to them, every delivery attempt, and
-- the notifications the webhook system sends partners (an endpoint disabled after failing
-- for days). Owned by control-plane/webhook. River's own tables (river_job, ...) are made
-- by River's migrator (webhook.MigrateQueue), not here.
-- +goose Up
CREATE TABLE webhook_endpoints (
    id                          text PRIMARY KEY,
    partner_id                  text NOT NULL REFERENCES partners (id),
    workspace_id                text NOT NULL REFERENCES workspaces (id),
    environment                 text NOT NULL CHECK (environment IN ('test', 'live')),
    url                         text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description                 text NOT NULL DEFAULT '',
    event_types                 text[] NOT NULL,
    enabled                     boolean NOT NULL DEFAULT true,
    disabled_reason             text NOT NULL DEFAULT '',
    -- The signing secret (whsec_...) is stored as issued, not hashed: HMAC signing needs it.
    secret                      text NOT NULL,
    -- The secret replaced by the last rotation, still signing until previous_expires_at.
    previous_secret             text,
    previous_expires_at         timestamptz,
    -- Start of the current run of failed attempts; null after a success.
    failing_since               timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    deleted_at                  timestamptz
);
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (partner_id, workspace_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY,
    event_id         text NOT NULL,
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id),
    partner_id       text NOT NULL,
    workspace_id     text NOT NULL,
    event_type       text NOT NULL,
    -- The exact body sent, so every attempt and redelivery signs the same bytes.
    payload          text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text NOT NULL DEFAULT '',
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (partner_id, workspace_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (partner_id, workspace_id, status, created_at);

CREATE TABLE webhook_attempts (
    id               bigserial PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES webhook_deliveries (id),
    attempt          integer NOT NULL,
    at               timestamptz NOT NULL,
    status_code      integer,
    latency_ms       integer NOT NULL,
    response_excerpt text NOT NULL DEFAULT '',
    error            text NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- Messages for the partner about their webhooks (kind endpoint.disabled, ...), for the
-- console and the mailer to pick up.
CREATE TABLE webhook_notifications (
    id           bigserial PRIMARY KEY,
    partner_id   text NOT NULL,
    workspace_id text NOT NULL,
    kind         text NOT NULL,
    endpoint_id  text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_notifications_tenant_idx ON webhook_notifications (partner_id, workspace_id, id DESC);

-- +goose Down
DROP TABLE webhook_notifications;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
