//! The attempt limiter port: counts failures per key in a fixed window, so that password
//! guessing is slowed for one account and for one address.
//!
//! An attempt is counted before it is made (`reserve`), so that concurrent attempts cannot all
//! pass a check that reads the count before any of them records it: the count is taken and
//! raised in one atomic step. An attempt that did not fail gives its place back (`release`);
//! one that failed simply keeps it.
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

    /// Counts one attempt against the key before it is made, in one atomic step: `None` when
    /// it was counted and the caller may try, `Some(wait)` (nothing counted) when the key
    /// already has `limit` attempts in its window. The window opens at the first attempt and
    /// lasts `window`, as for [`record_failure`](Self::record_failure), whose counts it shares.
    ///
    /// A counted attempt that fails needs nothing more (the count stands: the reservation is
    /// confirmed); one that succeeds, or is refused for a reason of the server's, is handed back
    /// with [`release`](Self::release).
    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> anyhow::Result<Option<Duration>>;

    /// Takes back one attempt counted by [`reserve`](Self::reserve). The count never goes below
    /// zero, and a key whose window has closed is left as it is.
    async fn release(&self, key: &str) -> anyhow::Result<()>;
}
