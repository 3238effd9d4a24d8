-- The edge request that caused an order delivery (the order event's request_id), so the
-- log explorer can show a request's webhooks beside it. Empty for test events.
-- +goose Up
ALTER TABLE webhook_deliveries ADD COLUMN request_id text NOT NULL DEFAULT '';
CREATE INDEX webhook_deliveries_request_idx ON webhook_deliveries (partner_id, request_id) WHERE request_id <> '';

-- +goose Down
DROP INDEX webhook_deliveries_request_idx;
ALTER TABLE webhook_deliveries DROP COLUMN request_id;
