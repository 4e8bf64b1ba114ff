//! Retention on PostgreSQL: each call deletes one batch, oldest first, through the indexes of
//! migration 0010, in a transaction of its own (short, whatever is due). Rows another
//! transaction holds (an idempotency key being answered, an offer being settled) are skipped,
//! not waited for: the next batch or run takes them.

use chrono::{DateTime, Utc};
use dragoman_ports::{RetentionStore, StoreError};

use crate::{PgStore, db_error};

impl PgStore {
    /// Runs one bounded `DELETE` binding an instant and the limit, in its own transaction; rows
    /// deleted.
    async fn delete_batch(
        &self,
        sql: &'static str,
        at: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let done = self
            .q(sql)
            .bind(at)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait::async_trait]
impl RetentionStore for PgStore {
    async fn delete_expired_refresh_tokens(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM refresh_tokens WHERE id IN (
                 SELECT id FROM refresh_tokens WHERE expires_at <= $1
                 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
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
            "DELETE FROM idempotency_keys WHERE (client_id, key) IN (
                 SELECT client_id, key FROM idempotency_keys WHERE created_at < $1
                 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
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
            "DELETE FROM explanations WHERE offer_id IN (
                 SELECT offer_id FROM explanations WHERE decided_at < $1
                 ORDER BY decided_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
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
        // Explanations go with their offers (ON DELETE CASCADE). A finished request's status
        // never changes again, so reading it without a lock is enough.
        self.delete_batch(
            "DELETE FROM offers WHERE id IN (
                 SELECT o.id FROM offers o JOIN requests r ON r.id = o.request_id
                 WHERE o.created_at < $1 AND r.status IN ('matched', 'cancelled', 'expired')
                 ORDER BY o.created_at LIMIT $2 FOR UPDATE OF o SKIP LOCKED)",
            created_before,
            limit,
        )
        .await
    }
}
