-- Matching: interpreter presence, requests, offers, sessions and ratings, explanations,
-- idempotency keys and leases.
--
-- The unique indexes named below are the last line against double assignment whatever the
-- number of instances; dragoman_ports::matching names them and the store maps their violations.
-- Timers are columns (a pending offer's expires_at, an open request's expires_at, a wrap-up's
-- status_since), each with the partial index its sweep reads.

-- Presence beside the status. Rows created before this migration, and rows that create_user
-- inserts with only (user_id, status, status_since), read as: idle since status_since, no
-- misses, no away reason, no counters for any day, never offered.
ALTER TABLE interpreters
    ADD COLUMN idle_since         timestamptz,
    ADD COLUMN missed_in_a_row    integer NOT NULL DEFAULT 0 CHECK (missed_in_a_row >= 0),
    -- Set when the system chose `away`: 'missed_offers' with the number of offers missed.
    ADD COLUMN away_reason        text CHECK (away_reason IN ('missed_offers')),
    ADD COLUMN away_missed_count  integer,
    -- The UTC day declines_today and talk_time_today_ms count; other days read as zero.
    ADD COLUMN stats_day          date,
    ADD COLUMN declines_today     integer NOT NULL DEFAULT 0 CHECK (declines_today >= 0),
    ADD COLUMN talk_time_today_ms bigint NOT NULL DEFAULT 0 CHECK (talk_time_today_ms >= 0),
    ADD COLUMN last_offered_at    timestamptz;

-- The wrap-up timer: interpreters in wrap-up by when it began.
CREATE INDEX interpreters_wrap_up_idx ON interpreters (status_since) WHERE status = 'wrap_up';

CREATE TABLE requests (
    id             uuid PRIMARY KEY,
    client_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    language       text NOT NULL,
    specialization text NOT NULL,
    modality       text NOT NULL,
    priority       smallint NOT NULL DEFAULT 0,
    status         text NOT NULL CHECK (status IN ('queued', 'offered', 'matched', 'cancelled', 'expired')),
    created_at     timestamptz NOT NULL,
    -- When it expires if still unmatched; the request expiry timer.
    expires_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    session_id     uuid
);
CREATE UNIQUE INDEX requests_one_open_per_client ON requests (client_id)
    WHERE status IN ('queued', 'offered');
-- The snapshot and the queue of a language; the request expiry sweep.
CREATE INDEX requests_open_language_idx ON requests (language, expires_at)
    WHERE status IN ('queued', 'offered');
CREATE INDEX requests_open_expiry_idx ON requests (expires_at)
    WHERE status IN ('queued', 'offered');

CREATE TABLE offers (
    id             uuid PRIMARY KEY,
    request_id     uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    interpreter_id uuid NOT NULL REFERENCES interpreters (user_id) ON DELETE CASCADE,
    language       text NOT NULL,
    specialization text NOT NULL,
    modality       text NOT NULL,
    status         text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'expired', 'rescinded')),
    created_at     timestamptz NOT NULL,
    -- The offer timeout, while pending.
    expires_at     timestamptz NOT NULL,
    settled_at     timestamptz,
    CONSTRAINT offers_request_interpreter_key UNIQUE (request_id, interpreter_id)
);
CREATE UNIQUE INDEX offers_one_pending_per_request ON offers (request_id) WHERE status = 'pending';
CREATE UNIQUE INDEX offers_one_pending_per_interpreter ON offers (interpreter_id) WHERE status = 'pending';
-- The offer timeout sweep.
CREATE INDEX offers_pending_expiry_idx ON offers (expires_at) WHERE status = 'pending';
-- Recent offers of a language, for the wait estimate.
CREATE INDEX offers_language_created_idx ON offers (language, created_at);

CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    request_id     uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    client_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    interpreter_id uuid NOT NULL REFERENCES interpreters (user_id) ON DELETE CASCADE,
    language       text NOT NULL,
    specialization text NOT NULL,
    modality       text NOT NULL,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    match_time_ms  bigint NOT NULL,
    -- The client's rating, once the session has ended; all three set together.
    rating_stars   smallint CHECK (rating_stars BETWEEN 1 AND 5),
    rating_comment text,
    rated_at       timestamptz,
    CONSTRAINT sessions_request_key UNIQUE (request_id),
    CHECK (rating_stars IS NULL OR ended_at IS NOT NULL),
    CHECK ((rating_stars IS NULL) = (rated_at IS NULL))
);
CREATE UNIQUE INDEX sessions_one_open_per_interpreter ON sessions (interpreter_id)
    WHERE ended_at IS NULL;
-- A user's sessions, newest first.
CREATE INDEX sessions_client_idx ON sessions (client_id, started_at DESC, id DESC);
CREATE INDEX sessions_interpreter_idx ON sessions (interpreter_id, started_at DESC, id DESC);
-- Match times of the last hour; session lengths of a language.
CREATE INDEX sessions_started_idx ON sessions (started_at);
CREATE INDEX sessions_language_ended_idx ON sessions (language, ended_at);

ALTER TABLE requests ADD CONSTRAINT requests_session_fkey
    FOREIGN KEY (session_id) REFERENCES sessions (id) DEFERRABLE INITIALLY DEFERRED;

-- Why each offer went where it went: dragoman_domain::matching::Explanation as JSON.
CREATE TABLE explanations (
    offer_id   uuid PRIMARY KEY REFERENCES offers (id) ON DELETE CASCADE,
    request_id uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    decided_at timestamptz NOT NULL,
    body       jsonb NOT NULL
);
CREATE INDEX explanations_request_idx ON explanations (request_id, decided_at);

-- A client's Idempotency-Key for POST /v1/requests, remembered 24 hours (older ones may be
-- reused: the store overwrites them).
CREATE TABLE idempotency_keys (
    client_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key        text NOT NULL,
    request_id uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL,
    -- The body answered the first time, once saved.
    response   text,
    PRIMARY KEY (client_id, key)
);

-- Who drives what (matching of a language, a sweep) until when. A plain row, so that it works
-- through a transaction pooler, where session advisory locks do not.
CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
