-- Activation milestones detected from what partners do (issue 12, part 3): each milestone
-- is stored once per partner with the exact time and the id of the event that reached it
-- (a request id, an order event id, a webhook delivery id or a control-plane audit id),
-- and where that event came from.
-- +goose Up
ALTER TABLE onboarding_milestones
    ADD COLUMN event_id text NOT NULL DEFAULT '',
    ADD COLUMN source   text NOT NULL DEFAULT 'control_plane'
        CHECK (source IN ('control_plane', 'request_log', 'order_event', 'webhook', 'backfill'));
ALTER TABLE onboarding_milestones ADD CONSTRAINT onboarding_milestones_known CHECK (milestone IN (
    'signed_up', 'first_key', 'first_sandbox_call', 'first_sandbox_order', 'first_webhook_delivered',
    'live_requested', 'live_approved', 'first_live_key', 'first_live_call', 'first_live_order'));
-- Growth figures read milestones by name over a time range.
CREATE INDEX onboarding_milestones_by_time ON onboarding_milestones (milestone, reached_at);

-- +goose Down
DROP INDEX onboarding_milestones_by_time;
ALTER TABLE onboarding_milestones DROP CONSTRAINT onboarding_milestones_known;
ALTER TABLE onboarding_milestones DROP COLUMN source, DROP COLUMN event_id;
