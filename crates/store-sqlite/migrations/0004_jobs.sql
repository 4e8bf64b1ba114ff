-- Jobs: the embedded queue, the record of which job keys ran, and the post-session summaries the
-- first job type writes.
--
-- A job is one row from enqueue to completion (then deleted) or death (kept for operators). Its
-- state is 'waiting' (due at run_at, which may be in the future: then it reads as delayed),
-- 'active' (handed to a worker until locked_until; past that another worker may take it: the
-- first one stalled or died), or 'dead'. Instants are INTEGER microseconds since the epoch.
CREATE TABLE jobs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    -- One live job per key: a second enqueue while this row exists adds nothing.
    job_key      TEXT NOT NULL UNIQUE,
    priority     INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'dead')),
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   TEXT,
    enqueued_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    locked_until INTEGER,
    worker       TEXT,
    -- Bumped at each hand-out, so that a stalled worker's late answer cannot touch the job
    -- another worker now holds.
    lease        INTEGER NOT NULL DEFAULT 0
);

-- What a reserve reads: due jobs of one type by priority then age, and stalled ones.
CREATE INDEX jobs_waiting_idx ON jobs (kind, priority DESC, run_at, seq) WHERE state = 'waiting';
CREATE INDEX jobs_active_idx ON jobs (kind, locked_until) WHERE state = 'active';
CREATE INDEX jobs_state_idx ON jobs (state, updated_at);

-- The idempotency record: a job's effect commits in the same transaction as its key's row here,
-- so a redelivered job finds its key and writes nothing.
CREATE TABLE job_runs (
    run_key TEXT PRIMARY KEY,
    ran_at  INTEGER NOT NULL
);

CREATE TABLE session_summaries (
    session_id    BLOB PRIMARY KEY,
    language      TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    match_time_ms INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
