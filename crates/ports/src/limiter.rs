//! The attempt limiter port: counts failures per key in a fixed window, so that password
//! guessing is slowed for one account and for one address.
//!
//! In-process for one instance; on Redis when several instances must share the counts.

use std::time::Duration;

use async_trait::async_trait;

/// Counts failed attempts per key.
#[async_trait]
pub trait AttemptLimiter: Send + Sync + std::fmt::Debug {
    /// How long the key must wait before trying again, or `None` if it may try now. A key is
    /// blocked once it has `limit` failures in the current window.
    async fn blocked_for(&self, key: &str, limit: u32) -> anyhow::Result<Option<Duration>>;

    /// Records one failure against the key. The window opens at the first failure and lasts
    /// `window`; failures after it closes start a new one.
    async fn record_failure(&self, key: &str, window: Duration) -> anyhow::Result<()>;

    /// Forgets the key's failures (after a successful login).
    async fn reset(&self, key: &str) -> anyhow::Result<()>;
}
