-- Files: documents attached to sessions, and avatar uploads handed out but not yet completed.
-- Object keys are built by the server (sessions/{session_id}/documents/{id},
-- users/{user_id}/avatar/{uuid}); the filename is metadata only.

CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    uploader_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    object_key   text NOT NULL UNIQUE,
    status       text NOT NULL CHECK (status IN ('pending', 'ready')),
    created_at   timestamptz NOT NULL,
    ready_at     timestamptz
);
CREATE INDEX documents_session_idx ON documents (session_id, id);

-- At most one avatar upload in progress per user: asking again replaces it.
CREATE TABLE avatar_uploads (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    object_key   text NOT NULL UNIQUE,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    created_at   timestamptz NOT NULL
);
