//! The ports on Redis, for a fleet: every instance sees the same events, the same per-user event
//! logs and the same login failure counts.
//!
//! Names follow the seed system so a team running it can move piece by piece: topic events go
//! out on the pub/sub channel `interpreter-status`; user events (which the seed did not have) on
//! `dragoman:events`, with their logs under `dragoman:events:{user}`; each interpreter's status
//! and languages under `interpreter:{id}:status` (300 s, renewed by heartbeats); which instances
//! hold a user's WebSockets under `dragoman:connections:{user}`. Every name can carry a
//! prefix (REDIS_PREFIX), which is how tests on one Redis never see each other's data.

mod availability;
mod bus;
mod connections;
mod limiter;
mod presence;

pub use availability::RedisAvailability;
pub use bus::RedisBus;
pub use connections::RedisConnections;
pub use limiter::RedisLimiter;
pub use presence::RedisPresence;

/// Connects a client and checks that Redis answers.
pub async fn connect(url: &str) -> anyhow::Result<(redis::Client, redis::aio::ConnectionManager)> {
    use anyhow::Context;
    let client = redis::Client::open(url).context("parsing REDIS_URL")?;
    let mut manager = client
        .get_connection_manager()
        .await
        .context("connecting to Redis")?;
    let _: String = redis::cmd("PING")
        .query_async(&mut manager)
        .await
        .context("Redis does not answer PING")?;
    Ok((client, manager))
}
