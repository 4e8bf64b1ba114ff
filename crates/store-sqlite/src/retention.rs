//! Retention on SQLite: each call deletes one batch, oldest first, through the indexes of
//! migration 0008. SQLite has no `DELETE ... LIMIT` in its default build, so each statement
//! deletes the rowids a limited subquery picks. One batch is one short write on the single
//! writer connection: requests waiting to write wait behind at most one batch.

use chrono::{DateTime, Utc};
use dragoman_ports::{RetentionStore, StoreError};

use crate::{SqliteStore, db_error, micros};

impl SqliteStore {
    /// Runs one bounded `DELETE` binding an instant and the limit; rows deleted.
    async fn delete_batch(
        &self,
        sql: &'static str,
        at: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(sql)
            .bind(micros(at))
            .bind(i64::from(limit))
            .execute(&self.writer)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait::async_trait]
impl RetentionStore for SqliteStore {
    async fn delete_expired_refresh_tokens(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM refresh_tokens WHERE rowid IN (
                 SELECT rowid FROM refresh_tokens WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
            now,
            limit,
        )
        .await
    }

    async fn delete_idempotency_keys(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM idempotency_keys WHERE rowid IN (
                 SELECT rowid FROM idempotency_keys WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
            created_before,
            limit,
        )
        .await
    }

    async fn delete_explanations(
        &self,
        decided_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM explanations WHERE rowid IN (
                 SELECT rowid FROM explanations WHERE decided_at < ?1 ORDER BY decided_at LIMIT ?2)",
            decided_before,
            limit,
        )
        .await
    }

    async fn delete_finished_offers(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        // Explanations go with their offers (ON DELETE CASCADE).
        self.delete_batch(
            "DELETE FROM offers WHERE rowid IN (
                 SELECT o.rowid FROM offers o JOIN requests r ON r.id = o.request_id
                 WHERE o.created_at < ?1 AND r.status IN ('matched', 'cancelled', 'expired')
                 ORDER BY o.created_at LIMIT ?2)",
            created_before,
            limit,
        )
        .await
    }
}
