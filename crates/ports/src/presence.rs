//! The presence port: which users have a live connection somewhere in the fleet.
//!
//! Each instance marks the users it holds WebSockets for, for a grace period, and renews the
//! mark while they stay connected; the mark of an instance that dies simply runs out. The
//! presence sweep sets `offline` every interpreter who counts as online without a mark, so
//! nothing is offered to someone long gone.

use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;

#[async_trait]
pub trait PresenceRegistry: Send + Sync + std::fmt::Debug {
    /// Marks the users present for `ttl` from now.
    async fn touch(&self, users: &[UserId], ttl: Duration) -> anyhow::Result<()>;

    /// Whether each of `users` is marked present, in the same order.
    async fn present(&self, users: &[UserId]) -> anyhow::Result<Vec<bool>>;
}
