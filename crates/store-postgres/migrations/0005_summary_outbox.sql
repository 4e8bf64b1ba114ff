-- The post-session summaries owed: a row is written in the transaction that ends a session and
-- deleted in the one that writes its summary. A relay enqueues the summary job of every row older
-- than a grace period, so a crash between a session's end and the enqueue of its summary delays
-- the summary, never loses it.
CREATE TABLE session_summary_outbox (
    session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    ended_at   timestamptz NOT NULL
);
CREATE INDEX session_summary_outbox_ended_idx ON session_summary_outbox (ended_at);
