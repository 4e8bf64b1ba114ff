-- Accounts, refresh tokens and interpreter profiles.
-- Instants are INTEGER microseconds since the Unix epoch: they compare correctly in SQL, which
-- text timestamps of varying precision do not.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('client', 'interpreter', 'admin')),
    avatar_key    TEXT,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE refresh_tokens (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  BLOB NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE interpreters (
    user_id            BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    status             TEXT NOT NULL CHECK (status IN ('available', 'away', 'offline', 'reserved', 'busy', 'wrap_up')),
    status_since       INTEGER NOT NULL,
    -- Bit masks of dragoman_domain::SpecializationSet and ModalitySet; 0 until a profile is set.
    specializations    INTEGER NOT NULL DEFAULT 0,
    modalities         INTEGER NOT NULL DEFAULT 0,
    profile_updated_at INTEGER
) STRICT;

CREATE TABLE interpreter_languages (
    user_id   BLOB NOT NULL REFERENCES interpreters (user_id) ON DELETE CASCADE,
    code      TEXT NOT NULL,
    level     TEXT NOT NULL CHECK (level IN ('native', 'professional', 'conversational')),
    certified INTEGER NOT NULL CHECK (certified IN (0, 1)),
    position  INTEGER NOT NULL,
    PRIMARY KEY (user_id, code)
) STRICT;
CREATE INDEX interpreter_languages_code_idx ON interpreter_languages (code);
