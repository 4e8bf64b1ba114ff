//! The availability cache port: each interpreter's status and languages, readable without the
//! database, under the seed's key `interpreter:{id}:status` on Redis.
//!
//! The engine writes an interpreter's entry whenever their status changes; each instance renews
//! the entries of the interpreters it holds WebSockets for (the heartbeat), so an entry whose
//! interpreter vanished runs out by itself after [`AVAILABILITY_TTL`]. The database stays the
//! truth; the cache is for readers that must not touch it (the seed's dashboards and services).

use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;

/// How long an entry lives without a status change or heartbeat (the seed's 300 s).
pub const AVAILABILITY_TTL: Duration = Duration::from_secs(300);

/// One interpreter's entry: `{"status":"available","languages":["es","fr"]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedStatus {
    pub status: String,
    pub languages: Vec<String>,
}

#[async_trait]
pub trait AvailabilityCache: Send + Sync + std::fmt::Debug {
    /// Writes the interpreter's entry, living `ttl` from now.
    async fn put(
        &self,
        interpreter: UserId,
        entry: &CachedStatus,
        ttl: Duration,
    ) -> anyhow::Result<()>;

    /// Renews the entries that exist among `interpreters` for `ttl` from now (the heartbeat);
    /// creates none.
    async fn refresh(&self, interpreters: &[UserId], ttl: Duration) -> anyhow::Result<()>;

    /// The interpreter's entry, if it has not run out.
    async fn get(&self, interpreter: UserId) -> anyhow::Result<Option<CachedStatus>>;
}
