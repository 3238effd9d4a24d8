-- Policy rollback as a stack: each activation row remembers the activation that was
-- current before it (previous_id), so rolling back twice walks back two activations
-- instead of toggling between the last two. kind tells a plain activation from a rollback
-- in the trail. Owned by control-plane/policy.
-- +goose Up
ALTER TABLE policy_activations
    ADD COLUMN kind text NOT NULL DEFAULT 'activate' CHECK (kind IN ('activate', 'rollback')),
    ADD COLUMN previous_id bigint REFERENCES policy_activations (id);

-- +goose Down
ALTER TABLE policy_activations DROP COLUMN previous_id, DROP COLUMN kind;
