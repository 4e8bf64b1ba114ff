//! The retention port: what the periodic retention jobs delete, a bounded batch at a time.
//!
//! Records that only grow (refresh tokens, idempotency keys, offers and their explanations)
//! would otherwise fill the database at the rate of sign-ins and requests, whoever sends them.
//! Each method deletes at most `limit` rows in one statement and says how many it deleted, so
//! that a job can loop until a batch comes back short, or stop at a cap and leave the rest to
//! its next run: no run holds locks or a transaction for long, however much is due.
//!
//! Implementations: SQLite and PostgreSQL, over the tables of the [`crate::Store`] and
//! [`crate::MatchingStore`] ports; each deletion is one indexed range (migrations 0008 and 0010).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreError;

/// Deletes what is past its retention, in batches.
#[async_trait]
pub trait RetentionStore: Send + Sync + std::fmt::Debug {
    /// Deletes up to `limit` refresh tokens that expired at or before `now`, whatever their
    /// state (current, used or revoked); how many. An expired token can sign nobody in, and a
    /// replay of one is refused either way: reuse detection (the whole family revoked) holds
    /// for a rotated token until its own expiry. A revoked family goes with its last token.
    async fn delete_expired_refresh_tokens(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `limit` idempotency keys created before `created_before`; how many. Their
    /// requests stay.
    async fn delete_idempotency_keys(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `limit` explanations decided before `decided_before`; how many. Their
    /// offers stay (until [`RetentionStore::delete_finished_offers`] takes them).
    async fn delete_explanations(
        &self,
        decided_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `limit` offers made before `created_before` whose request is finished
    /// (`matched`, `cancelled` or `expired`), with their explanations; how many offers. Requests,
    /// sessions and ratings stay; an open request keeps its offers, which matching reads (the
    /// offer history: nobody is offered a request twice).
    async fn delete_finished_offers(
        &self,
        created_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<u64, StoreError>;
}
