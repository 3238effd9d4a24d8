-- Partners' requests for live access (issue 12, part 5), owned by control-plane/liverequest:
-- the business details an admin reviews, who asked, and the review's outcome. Approving one
-- is the partner's approve-live step (partners.live_approved_at) in the same transaction;
-- rejecting one keeps the reason the partner sees.
-- +goose Up
CREATE TABLE live_requests (
    id                    text PRIMARY KEY,
    partner_id            text NOT NULL REFERENCES partners (id),
    requested_by          text NOT NULL,
    legal_name            text NOT NULL CHECK (length(legal_name) BETWEEN 2 AND 200),
    website               text NOT NULL CHECK (length(website) BETWEEN 1 AND 2048),
    country               text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    expected_monthly_volume_cents bigint NOT NULL CHECK (expected_monthly_volume_cents > 0),
    use_case              text NOT NULL CHECK (length(use_case) BETWEEN 20 AND 2000),
    status                text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    rejection_reason      text NOT NULL DEFAULT '',
    reviewed_by           text NOT NULL DEFAULT '',
    reviewed_at           timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK ((status = 'pending') = (reviewed_at IS NULL)),
    CHECK ((status = 'rejected') = (rejection_reason <> ''))
);
-- One open request per partner: the partner waits for the review or its outcome.
CREATE UNIQUE INDEX live_requests_one_pending ON live_requests (partner_id) WHERE status = 'pending';
CREATE INDEX live_requests_by_partner ON live_requests (partner_id, created_at DESC, id DESC);
CREATE INDEX live_requests_by_status ON live_requests (status, created_at DESC, id DESC);

-- +goose Down
DROP TABLE live_requests;
