-- Matching: interpreter presence, requests, offers, sessions and ratings, explanations,
-- idempotency keys and leases.
--
-- The unique indexes named below are the last line against double assignment; the names are
-- those of dragoman_ports::matching, and db_error recovers them from SQLite's messages (which
-- name the columns, not the index). Timers are columns (a pending offer's expires_at, an open
-- request's expires_at, a wrap-up's status_since), each with the partial index its sweep reads.
-- Instants are INTEGER microseconds since the Unix epoch, as in the first migration.

-- Presence beside the status. Rows that create_user inserts with only (user_id, status,
-- status_since) read as: idle since status_since, no misses, no away reason, no counters for any
-- day, never offered.
ALTER TABLE interpreters ADD COLUMN idle_since INTEGER;
ALTER TABLE interpreters ADD COLUMN missed_in_a_row INTEGER NOT NULL DEFAULT 0 CHECK (missed_in_a_row >= 0);
-- Set when the system chose `away`: 'missed_offers' with the number of offers missed.
ALTER TABLE interpreters ADD COLUMN away_reason TEXT CHECK (away_reason IN ('missed_offers'));
ALTER TABLE interpreters ADD COLUMN away_missed_count INTEGER;
-- The UTC day (days since the epoch) that declines_today and talk_time_today_us count; any other
-- day reads as zero.
ALTER TABLE interpreters ADD COLUMN stats_day INTEGER;
ALTER TABLE interpreters ADD COLUMN declines_today INTEGER NOT NULL DEFAULT 0 CHECK (declines_today >= 0);
ALTER TABLE interpreters ADD COLUMN talk_time_today_us INTEGER NOT NULL DEFAULT 0 CHECK (talk_time_today_us >= 0);
ALTER TABLE interpreters ADD COLUMN last_offered_at INTEGER;

-- The wrap-up timer: interpreters in wrap-up by when it began.
CREATE INDEX interpreters_wrap_up_idx ON interpreters (status_since) WHERE status = 'wrap_up';

CREATE TABLE requests (
    id             BLOB PRIMARY KEY,
    client_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    language       TEXT NOT NULL,
    specialization TEXT NOT NULL,
    modality       TEXT NOT NULL,
    priority       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'offered', 'matched', 'cancelled', 'expired')),
    created_at     INTEGER NOT NULL,
    -- When it expires if still unmatched: the request expiry timer.
    expires_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX requests_one_open_per_client ON requests (client_id)
    WHERE status IN ('queued', 'offered');
-- The snapshot of a language and the languages waiting; the request expiry sweep.
CREATE INDEX requests_open_language_idx ON requests (language, status)
    WHERE status IN ('queued', 'offered');
CREATE INDEX requests_open_expiry_idx ON requests (expires_at)
    WHERE status IN ('queued', 'offered');

CREATE TABLE offers (
    id             BLOB PRIMARY KEY,
    request_id     BLOB NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    interpreter_id BLOB NOT NULL REFERENCES interpreters (user_id) ON DELETE CASCADE,
    -- The request's need, copied: an offer is read alone far more often than it is written.
    language       TEXT NOT NULL,
    specialization TEXT NOT NULL,
    modality       TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'expired', 'rescinded')),
    created_at     INTEGER NOT NULL,
    -- The offer timeout, while pending.
    expires_at     INTEGER NOT NULL,
    settled_at     INTEGER
) STRICT;
CREATE UNIQUE INDEX offers_request_interpreter_key ON offers (request_id, interpreter_id);
CREATE UNIQUE INDEX offers_one_pending_per_request ON offers (request_id) WHERE status = 'pending';
CREATE UNIQUE INDEX offers_one_pending_per_interpreter ON offers (interpreter_id) WHERE status = 'pending';
-- The offer timeout sweep.
CREATE INDEX offers_pending_expiry_idx ON offers (expires_at) WHERE status = 'pending';
-- Recent offers of a language, for the wait estimate.
CREATE INDEX offers_language_created_idx ON offers (language, created_at);

CREATE TABLE sessions (
    id             BLOB PRIMARY KEY,
    request_id     BLOB NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    client_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    interpreter_id BLOB NOT NULL REFERENCES interpreters (user_id) ON DELETE CASCADE,
    language       TEXT NOT NULL,
    specialization TEXT NOT NULL,
    modality       TEXT NOT NULL,
    started_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    match_time_ms  INTEGER NOT NULL,
    -- The client's rating, once the session has ended; stars and rated_at are set together.
    rating_stars   INTEGER CHECK (rating_stars BETWEEN 1 AND 5),
    rating_comment TEXT,
    rated_at       INTEGER,
    CHECK (rating_stars IS NULL OR ended_at IS NOT NULL),
    CHECK ((rating_stars IS NULL) = (rated_at IS NULL))
) STRICT;
CREATE UNIQUE INDEX sessions_request_key ON sessions (request_id);
CREATE UNIQUE INDEX sessions_one_open_per_interpreter ON sessions (interpreter_id)
    WHERE ended_at IS NULL;
-- A user's sessions, newest first.
CREATE INDEX sessions_client_idx ON sessions (client_id, started_at DESC, id DESC);
CREATE INDEX sessions_interpreter_idx ON sessions (interpreter_id, started_at DESC, id DESC);
-- Match times of the last hour; session lengths of a language.
CREATE INDEX sessions_started_idx ON sessions (started_at);
CREATE INDEX sessions_language_ended_idx ON sessions (language, ended_at);

-- Why each offer went where it went: dragoman_domain::matching::Explanation as JSON text.
CREATE TABLE explanations (
    offer_id   BLOB PRIMARY KEY REFERENCES offers (id) ON DELETE CASCADE,
    request_id BLOB NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    decided_at INTEGER NOT NULL,
    body       TEXT NOT NULL CHECK (json_valid(body))
) STRICT;
CREATE INDEX explanations_request_idx ON explanations (request_id, decided_at);

-- A client's Idempotency-Key for POST /v1/requests, remembered 24 hours. A key older than that
-- is overwritten when reused, and a client's stale keys are pruned whenever it creates a request.
CREATE TABLE idempotency_keys (
    client_id  BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    request_id BLOB NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    -- The body answered the first time, once saved.
    response   TEXT,
    PRIMARY KEY (client_id, key)
) STRICT;

-- Who drives what (matching of a language, a sweep) until when.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
