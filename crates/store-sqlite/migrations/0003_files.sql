-- Files: documents attached to sessions, and avatar uploads handed out but not yet completed.
-- Object keys are built by the server (sessions/{session_id}/documents/{id},
-- users/{user_id}/avatar/{uuid}); the filename is metadata only. Instants are INTEGER
-- microseconds since the epoch.

CREATE TABLE documents (
    id           BLOB PRIMARY KEY,
    session_id   BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    uploader_id  BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL CHECK (size_bytes > 0),
    object_key   TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready')),
    created_at   INTEGER NOT NULL,
    ready_at     INTEGER
) STRICT;
CREATE INDEX documents_session_idx ON documents (session_id, id);

-- At most one avatar upload in progress per user: asking again replaces it.
CREATE TABLE avatar_uploads (
    user_id      BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    object_key   TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL CHECK (size_bytes > 0),
    created_at   INTEGER NOT NULL
) STRICT;
