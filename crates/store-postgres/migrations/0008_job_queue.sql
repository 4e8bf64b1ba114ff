-- The job queue of an instance on PostgreSQL without Redis (crates/store-postgres/src/queue.rs).
-- With REDIS_URL the fleet's queue is Redis Streams and this table stays empty; the job effects
-- and their run records (job_runs, migration 0004) are in this database either way.
--
-- A job is one row from enqueue to completion (then deleted) or death (kept for operators). Its
-- state is 'waiting' (due at run_at, which may be in the future: then it reads as delayed),
-- 'active' (handed to a worker until locked_until; past that it has stalled, its worker died,
-- and the next reservation of its kind takes it), or 'dead' (run_at is when it died). Workers
-- reserve with FOR UPDATE SKIP LOCKED, so two of them never wait on, nor take, the same row.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    -- Enqueue order, to break ties between jobs due at the same instant.
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    -- One live job per key: a second enqueue while this row exists adds nothing.
    job_key      text NOT NULL UNIQUE,
    priority     integer NOT NULL DEFAULT 0,
    state        text NOT NULL CHECK (state IN ('waiting', 'active', 'dead')),
    run_at       timestamptz NOT NULL,
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text,
    enqueued_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    locked_until timestamptz,
    worker       text,
    -- Raised at each hand-out; completions and failures match on it, so that a stalled worker's
    -- late answer cannot touch the job another worker now holds.
    lease        bigint NOT NULL DEFAULT 0
);

-- What a reservation reads: the due jobs of one kind, by priority then due time, in index order,
-- so it stops after the rows it takes however many wait behind them.
CREATE INDEX jobs_due_idx ON jobs (kind, priority DESC, run_at, seq) WHERE state = 'waiting';
-- Stalled jobs of one kind: active past their visibility timeout.
CREATE INDEX jobs_stalled_idx ON jobs (kind, locked_until) WHERE state = 'active';
-- Counts by state (waiting and delayed split at now), the lists operators read, the purge.
CREATE INDEX jobs_state_idx ON jobs (state, run_at);

-- Every row of a queue is deleted soon after it is written: vacuum it after a few percent of
-- dead rows rather than the default fifth of the table, so that reservations do not walk over
-- dead index entries.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 500);
