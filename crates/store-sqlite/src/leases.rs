//! The leases role on SQLite: which instance drives matching for a language (or runs a sweep) until when.
//!
//! A lease is a row, taken or renewed by one conditional upsert: the row is written only if it
//! is free, expired, or already the caller's. One embedded database normally has one instance,
//! but the same code keeps a second process pointed at the file from doubling the work.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::StoreError;

use crate::{SqliteStore, db_error, micros};

#[async_trait::async_trait]
impl dragoman_ports::LeaseStore for SqliteStore {
    /// True if `holder` holds `name` until `now + ttl` after this call.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
        )
        .bind(name)
        .bind(holder)
        .bind(micros(now + ttl))
        .bind(micros(now))
        .execute(&self.writer)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}
