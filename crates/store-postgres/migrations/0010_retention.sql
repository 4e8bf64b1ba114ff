-- Retention (dragoman_ports::RetentionStore): the periodic jobs delete, a batch at a time, the
-- refresh tokens that have expired, the idempotency keys older than 24 hours, and the
-- explanations and finished requests' offers older than RETENTION_DAYS. Each batch finds its
-- rows through one of these indexes, oldest first, instead of scanning the table.
--
-- Built in the migration's transaction: writes to these tables wait for each build (seconds on
-- millions of rows). The migration runs before the new version serves (docs/deploy.md).
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX explanations_decided_idx ON explanations (decided_at);
CREATE INDEX offers_created_idx ON offers (created_at);
