//! The connection registry port: which instances hold a WebSocket of which user.
//!
//! Each instance records the users it holds connections for, for a time it renews while they
//! stay connected, and removes a user when their last connection on it ends or it drains; the
//! records of an instance that dies run out by themselves. A user may be held by several
//! instances at once (a phone and a laptop).

use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;

#[async_trait]
pub trait ConnectionRegistry: Send + Sync + std::fmt::Debug {
    /// Records that `instance` holds `users`, for `ttl` from now (renewing earlier records).
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()>;

    /// Forgets that `instance` holds `users`.
    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()>;

    /// The instances holding `user` now, sorted.
    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>>;
}
