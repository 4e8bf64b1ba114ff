//! The ports on Redis, for a fleet: every instance sees the same events, the same per-user event
//! logs and the same login failure counts.
//!
//! Names follow the seed system so a team running it can move piece by piece: topic events go
//! out on the pub/sub channel `interpreter-status`; user events (which the seed did not have) on
//! `dragoman:events`, with their logs under `dragoman:events:{user}`; each interpreter's status
//! and languages under `interpreter:{id}:status` (300 s, renewed by heartbeats); which instances
//! hold a user's WebSockets under `dragoman:connections:{user}`. Every name can carry a
//! prefix (REDIS_PREFIX), which is how tests on one Redis never see each other's data.
//!
//! The same names serve a Redis Cluster (REDIS_CLUSTER, [`open`]), except where one script or
//! pipeline touches several keys, which must then share a hash tag: every user's event log and
//! counter are `P{dragoman:events}:<user>` and `...:seq` (see `bus.rs`), and the job queue's keys
//! sit under `{P:jobs}` (dragoman-queue-redis). The braces of the seed's
//! `interpreter:{id}:status` are the seed's notation for the id, not a hash tag: the key is
//! `interpreter:<uuid>:status`, one key per command, the same on a cluster.

mod availability;
mod bus;
mod conn;
mod connections;
mod limiter;
mod open;
mod presence;
#[cfg(test)]
mod testing;
mod wire;

pub use availability::RedisAvailability;
pub use bus::RedisBus;
pub use conn::RedisConn;
pub use connections::RedisConnections;
pub use limiter::RedisLimiter;
pub use open::{ModeMismatch, open};
pub use presence::RedisPresence;
/// The client pub/sub connections are opened from.
pub use redis::Client as RedisClient;

/// Connects to a single Redis (not a cluster node) and checks that it answers: see [`open`].
pub async fn connect(url: &str) -> anyhow::Result<(redis::Client, RedisConn)> {
    open(url, false).await
}
