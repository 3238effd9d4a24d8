-- Partners, people, workspaces and their roles, sessions, invitations, API keys, the edge
-- change feed, the audit trail and policy versions: the control plane's core schema.
-- Ids are prefixed random strings made by the application (ptr_, usr_, ws_, key_, ...).
-- +goose Up
CREATE TABLE partners (
    id               text PRIMARY KEY,
    company          text NOT NULL CHECK (length(company) BETWEEN 1 AND 200),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    live_approved_at timestamptz,
    -- The referral code another partner shared, as given at signup (the referral program
    -- comes later; the code is kept so no signup loses it).
    signup_referral_code text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partners_company_idx ON partners (lower(company));

-- Partner-side people. Platform admins are a separate kind of user (admin_users).
CREATE TABLE users (
    id            text PRIMARY KEY,
    email         citext NOT NULL UNIQUE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admin_users (
    id            text PRIMARY KEY,
    email         citext NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
    id         text PRIMARY KEY,
    partner_id text NOT NULL REFERENCES partners (id),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspaces_partner_idx ON workspaces (partner_id);

CREATE TABLE memberships (
    workspace_id text NOT NULL REFERENCES workspaces (id),
    user_id      text NOT NULL REFERENCES users (id),
    role         text NOT NULL CHECK (role IN ('owner', 'developer', 'finance')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Opaque session tokens, stored as SHA-256 hashes. subject_kind says which table
-- subject_id points into.
CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    subject_kind text NOT NULL CHECK (subject_kind IN ('user', 'admin')),
    subject_id   text NOT NULL,
    workspace_id text REFERENCES workspaces (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_subject_idx ON sessions (subject_kind, subject_id);

-- Single-use invitation tokens, stored as SHA-256 hashes.
CREATE TABLE invites (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces (id),
    email        citext NOT NULL,
    role         text NOT NULL CHECK (role IN ('owner', 'developer', 'finance')),
    token_hash   bytea NOT NULL UNIQUE,
    invited_by   text NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    accepted_by  text REFERENCES users (id),
    revoked_at   timestamptz
);
CREATE INDEX invites_workspace_idx ON invites (workspace_id, created_at DESC);

-- Fake USD for the sandbox, per partner; the sandbox vendor debits it.
CREATE TABLE sandbox_accounts (
    partner_id    text PRIMARY KEY REFERENCES partners (id),
    balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
    currency      text NOT NULL DEFAULT 'USD',
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Activation milestones (signed_up, first_key, first_call, first_order, ...), once each.
CREATE TABLE onboarding_milestones (
    partner_id text NOT NULL REFERENCES partners (id),
    milestone  text NOT NULL,
    reached_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, milestone)
);

-- API keys: only the SHA-256 of the secret and a short display prefix are kept.
CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    partner_id    text NOT NULL REFERENCES partners (id),
    workspace_id  text NOT NULL REFERENCES workspaces (id),
    environment   text NOT NULL CHECK (environment IN ('test', 'live')),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    display       text NOT NULL,
    hash          bytea NOT NULL UNIQUE,
    roles         text[] NOT NULL DEFAULT '{}',
    allowed_cidrs text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    expires_at    timestamptz,
    -- Set on a rolled key: it keeps working until then.
    grace_until   timestamptz,
    rolled_to     text REFERENCES api_keys (id),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at DESC, id);
CREATE INDEX api_keys_partner_idx ON api_keys (partner_id);

-- The edge change feed (gateway-plugin/edgesync/PROTOCOL.md): one row per key or partner
-- change, in version order. payload is the edgesync.Key or edgesync.Partner as JSON, or
-- the key hash for key_delete. Written in the same transaction as the change itself.
CREATE TABLE edge_changes (
    version    bigserial PRIMARY KEY,
    type       text NOT NULL CHECK (type IN ('key_upsert', 'key_delete', 'partner_upsert')),
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Security-relevant actions: keys, members, invitations, policies, suspensions.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_kind  text NOT NULL CHECK (actor_kind IN ('user', 'admin', 'system')),
    actor_id    text NOT NULL,
    partner_id  text REFERENCES partners (id),
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_partner_idx ON audit_log (partner_id, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);

-- OPA policy bundles uploaded by platform teams; one version is active at a time.
CREATE TABLE policy_versions (
    id               bigserial PRIMARY KEY,
    description      text NOT NULL DEFAULT '',
    bundle           bytea NOT NULL,
    digest           text NOT NULL,
    status           text NOT NULL DEFAULT 'uploaded'
                     CHECK (status IN ('uploaded', 'valid', 'invalid')),
    validation_error text,
    rego_tests       integer,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    validated_at     timestamptz
);

-- Every activation (and rollback) in order; the newest row is the active version.
CREATE TABLE policy_activations (
    id           bigserial PRIMARY KEY,
    version_id   bigint NOT NULL REFERENCES policy_versions (id),
    activated_by text NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT now(),
    reason       text NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE policy_activations;
DROP TABLE policy_versions;
DROP TABLE audit_log;
DROP TABLE edge_changes;
DROP TABLE api_keys;
DROP TABLE onboarding_milestones;
DROP TABLE sandbox_accounts;
DROP TABLE invites;
DROP TABLE sessions;
DROP TABLE memberships;
DROP TABLE workspaces;
DROP TABLE admin_users;
DROP TABLE users;
DROP TABLE partners;
