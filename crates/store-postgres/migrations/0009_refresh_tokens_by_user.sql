-- The open refresh tokens of one user: the per-user cap on refresh families reads them at every
-- login (cap_refresh_families). Partial, so used and revoked tokens cost it nothing.
CREATE INDEX refresh_tokens_open_by_user_idx ON refresh_tokens (user_id, created_at)
    WHERE used_at IS NULL AND revoked_at IS NULL;
