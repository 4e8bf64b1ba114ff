//! The leases role: which instance runs the fleet-wide sweeps and rounds now.
//!
//! Invariant every implementation keeps: a lease has at most one holder at a time, decided by
//! the database (one conditional write), until it expires; its holder may renew it, anyone may
//! take it once expired.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::StoreError;

/// Named leases held until an instant.
#[async_trait]
pub trait LeaseStore: Send + Sync + std::fmt::Debug {
    /// Takes or renews the lease `name` for `holder` until `now + ttl`. True if `holder` holds it
    /// (it was free, expired, or already its own).
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: TimeDelta,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
