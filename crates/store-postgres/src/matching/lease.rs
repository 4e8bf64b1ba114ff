//! The leases role: which instance drives something (the matching of a language, a sweep) until when.
//!
//! A lease is a plain row taken or renewed by one upsert, so that it works through a transaction
//! pooler: a session advisory lock would stay with whichever server connection took it and be
//! "held" by every client that connection later serves. The holder renews before `ttl` runs out;
//! if it dies, the row expires and the next instance to ask takes it over.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::StoreError;

use crate::{PgStore, db_error};

#[async_trait::async_trait]
impl dragoman_ports::LeaseStore for PgStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let held = self
            .q(
                "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
            ON CONFLICT (name) DO UPDATE
            SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE leases.expires_at <= $4 OR leases.holder = EXCLUDED.holder
            RETURNING holder",
            )
            .bind(name)
            .bind(holder)
            .bind(now + ttl)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(held.is_some())
    }
}
