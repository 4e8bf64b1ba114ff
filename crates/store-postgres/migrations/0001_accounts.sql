-- Accounts, refresh tokens and interpreter profiles.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash text NOT NULL,
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('client', 'interpreter', 'admin')),
    avatar_key    text,
    created_at    timestamptz NOT NULL
);

CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  uuid NOT NULL,
    token_hash bytea NOT NULL CONSTRAINT refresh_tokens_token_hash_key UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE interpreters (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    status             text NOT NULL CHECK (status IN ('available', 'away', 'offline', 'reserved', 'busy', 'wrap_up')),
    status_since       timestamptz NOT NULL,
    -- Bit masks of dragoman_domain::SpecializationSet and ModalitySet; 0 until a profile is set.
    specializations    bigint NOT NULL DEFAULT 0,
    modalities         bigint NOT NULL DEFAULT 0,
    profile_updated_at timestamptz
);

CREATE TABLE interpreter_languages (
    user_id   uuid NOT NULL REFERENCES interpreters (user_id) ON DELETE CASCADE,
    code      text NOT NULL,
    level     text NOT NULL CHECK (level IN ('native', 'professional', 'conversational')),
    certified boolean NOT NULL,
    position  integer NOT NULL,
    PRIMARY KEY (user_id, code)
);
CREATE INDEX interpreter_languages_code_idx ON interpreter_languages (code);
