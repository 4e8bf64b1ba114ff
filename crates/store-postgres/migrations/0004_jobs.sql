-- Job effects on PostgreSQL: the record of which job keys ran and the post-session summaries.
-- The queue itself lives in Redis when DATABASE_URL is PostgreSQL (docs/jobs.md says why); a job's
-- effect commits here in the same transaction as its key's row in job_runs, so a redelivered job
-- finds its key and writes nothing.
CREATE TABLE job_runs (
    run_key TEXT PRIMARY KEY,
    ran_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE session_summaries (
    session_id    UUID PRIMARY KEY,
    language      TEXT NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ NOT NULL,
    duration_ms   BIGINT NOT NULL,
    match_time_ms BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
