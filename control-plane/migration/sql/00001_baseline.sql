-- Baseline of the control-plane schema. Later issues add the partner, user, workspace and
-- key tables; citext gives them case-insensitive e-mail addresses.
-- +goose Up
CREATE EXTENSION IF NOT EXISTS citext;

-- +goose Down
DROP EXTENSION IF EXISTS citext;
