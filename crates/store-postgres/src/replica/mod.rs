//! Reads on a streaming replica (DATABASE_READ_URL), with read-your-writes across a fleet.
//!
//! Which reads: the read-heavy ones that decide nothing: availability counts, the administrators'
//! overview and statistics, the explanations of offers, a user's session list (and the exports and
//! other lists to come). Each such store method runs its query through
//! [`PgStore::read_routed`](crate::PgStore::read_routed) (a closure given the connection) instead
//! of taking `read`; that one call is the whole of the routing, and a query the replica fails (a
//! lost connection, a statement cancelled by replay) runs again on the primary. Everything that writes, and every read that a write path decides on
//! (matching snapshots, the reads inside a transaction, the counts announced right after a
//! change, the presence sweep's list), stays on the primary.
//!
//! Read-your-writes: a routed read first asks the primary for its flushed WAL position (one
//! statement that touches no table; the inserted position under `synchronous_commit = off`), then
//! uses the replica only once the replica has replayed up to that position, waiting a few milliseconds for it ([`FENCE_WAITS`]), else it reads the
//! primary. Whatever a caller wrote was committed before it asked to read, so its commit record
//! lies before that position and the replica's snapshot, taken after the check, contains it.
//! This holds across a fleet with no state of its own: the caller may have written through
//! any instance, or another caller may have; there is no per-user mark to share in Redis, no
//! cookie for the apps to carry, and no window of time to guess. The price is one trivial
//! round trip to the primary per routed read, against the query itself moving to the replica.
//! The alternatives were worse: the position of each caller's last write must be shared by the
//! fleet (Redis, which one instance does not have, written on every write) or carried by the apps
//! (a contract change); reading the primary for some seconds after a caller's write guesses, and
//! a replica can fall behind between two checks; routing only data that is "not the caller's"
//! would leave session lists, the caller's own data, on the primary.
//!
//! The monitor ([`monitor`]) checks the replica in the background, not per read: it measures
//! the lag ([`lag`]) and marks the replica healthy, lagging (beyond DATABASE_READ_MAX_LAG_MS) or
//! down ([`health`]). While it is not healthy every routed read goes straight to the primary; a
//! replica that comes back is used again at the next check.

pub(crate) mod health;
pub(crate) mod lag;
pub(crate) mod monitor;
mod routing;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::{Pooler, Reading};
use health::Health;

/// How long a routed read waits, in steps, for the replica to replay up to the primary's position
/// before it reads the primary instead (31 ms in all). A replica in the same region usually
/// replays within a few milliseconds; waiting longer than the primary takes to answer is waste.
pub(crate) const FENCE_WAITS: [Duration; 6] = [
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(4),
    Duration::from_millis(8),
    Duration::from_millis(16),
];

/// How long a routed read waits for a free replica connection before it reads the primary: a
/// replica pool busy to its limit is no reason to keep a caller waiting while the primary answers.
const ACQUIRE_WAIT: Duration = Duration::from_millis(500);

/// Where the replica is and how far behind it may be.
#[derive(Clone)]
pub struct ReplicaSettings {
    /// DATABASE_READ_URL.
    pub url: String,
    /// DATABASE_READ_POOLER.
    pub pooler: Pooler,
    pub max_connections: u32,
    /// DATABASE_READ_MAX_LAG_MS.
    pub max_lag: Duration,
}

impl std::fmt::Debug for ReplicaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("ReplicaSettings")
            .field("pooler", &self.pooler)
            .field("max_connections", &self.max_connections)
            .field("max_lag", &self.max_lag)
            .finish_non_exhaustive()
    }
}

/// A connected replica and the task that watches it.
#[derive(Debug)]
pub(crate) struct Replica {
    pool: PgPool,
    /// False behind a transaction pooler.
    persistent: bool,
    pub(crate) health: std::sync::Arc<Health>,
    monitor: tokio::task::JoinHandle<()>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.monitor.abort();
    }
}

impl Replica {
    /// Connects, checks that the server is a standby replaying from the primary, measures its
    /// lag once, and starts the monitor. An error here is a replica that does not answer at
    /// start: the caller stops the process.
    pub(crate) async fn connect(
        primary: PgPool,
        settings: &ReplicaSettings,
    ) -> anyhow::Result<Self> {
        let mut options =
            PgConnectOptions::from_str(&settings.url).context("not a PostgreSQL URL")?;
        if settings.pooler == Pooler::Transaction {
            options = options.statement_cache_capacity(0);
        }
        let persistent = settings.pooler == Pooler::None;
        // One connection first: the pool would only say that it timed out, this says why.
        let probe: sqlx::PgConnection = sqlx::ConnectOptions::connect(&options)
            .await
            .context("connecting")?;
        sqlx::Connection::close(probe).await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(ACQUIRE_WAIT)
            .connect_with(options.clone())
            .await
            .context("connecting")?;
        // The monitor's own connection: a read pool busy to its limit must not look like a
        // replica that stopped answering.
        let watching = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options)
            .await
            .context("connecting")?;
        let mut watch = monitor::Monitor::new(primary, watching, persistent, settings.max_lag);
        let first = watch
            .check()
            .await?
            .context("the primary did not answer to measure the replica's lag")?;
        let health = std::sync::Arc::new(Health::new(health::State::Healthy));
        watch.report(&health, first);
        let monitor = tokio::spawn(watch.run(health.clone()));
        Ok(Self {
            pool,
            persistent,
            health,
            monitor,
        })
    }

    /// A reading on the replica once it has replayed up to `fence`; `None` if it has not within
    /// [`FENCE_WAITS`].
    pub(crate) async fn reading_at(&self, fence: i64) -> Result<Option<Reading>, sqlx::Error> {
        let mut reading = Reading::on(&self.pool, self.persistent).await?;
        for pause in FENCE_WAITS {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            // Its own statement, before the reads: under READ COMMITTED each later statement
            // takes a snapshot after this one, so it sees everything replayed up to here.
            let replayed: Option<bool> = sqlx::query_scalar(
                "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint >= $1",
            )
            .persistent(self.persistent)
            .bind(fence)
            .fetch_one(&mut *reading)
            .await?;
            if replayed == Some(true) {
                return Ok(Some(reading));
            }
        }
        reading.done().await.ok();
        Ok(None)
    }

    pub(crate) async fn close(&self) {
        self.monitor.abort();
        self.pool.close().await;
    }

    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    pub(crate) fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }
}
