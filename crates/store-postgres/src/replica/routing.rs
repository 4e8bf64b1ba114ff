//! Which connection a routed read runs on: the replica when it is healthy and has the caller's
//! writes, the primary otherwise, and the primary again if the replica fails the query.

use std::future::Future;
use std::pin::Pin;

use dragoman_ports::StoreError;

use super::health::{self, State};
use super::{Replica, ReplicaSettings};
use crate::{PgStore, Reading, db_error};

/// A routed read's query on the connection it is given. It may run twice (on the replica, then
/// on the primary if the replica failed it), so it only reads.
pub(crate) type Routed<'r, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'r>>;

impl PgStore {
    /// Sends the read-heavy queries to a streaming replica as well (see the `replica` module).
    /// Fails if the replica does not answer, is not a standby, or its lag cannot be measured:
    /// a replica given at start must work at start.
    pub async fn with_replica(mut self, settings: &ReplicaSettings) -> anyhow::Result<Self> {
        let replica = Replica::connect(self.pool.clone(), settings).await?;
        self.replica = Some(std::sync::Arc::new(replica));
        Ok(self)
    }

    /// Whether routed reads go to the replica now: `None` without one, `Some(false)` while it is
    /// down or lags beyond its limit.
    pub fn replica_in_use(&self) -> Option<bool> {
        self.replica
            .as_ref()
            .map(|r| r.health().state() == State::Healthy)
    }

    /// The replica pool's connections open and idle, for the pool gauge.
    pub fn replica_pool_usage(&self) -> Option<(u32, usize)> {
        self.replica.as_ref().map(|r| r.pool_usage())
    }

    /// Runs a read-heavy query that decides nothing: on the replica when there is one, it is
    /// healthy and it has replayed every write committed before this call (so a caller sees what
    /// it has just written, through whichever instance it wrote); on the primary otherwise, or
    /// when the replica fails it. Write paths never call this. The query builds its statements
    /// with [`Reading::q`], which knows which pool's pooler mode applies.
    pub(crate) async fn read_routed<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        F: for<'r> Fn(&'r mut Reading) -> Routed<'r, T>,
    {
        if let Some(replica) = &self.replica
            && let Some(mut reading) = self.replica_reading(replica).await?
        {
            match query(&mut reading).await {
                Ok(found) => {
                    // A read-only transaction that cannot commit has still read what it read.
                    reading.done().await.ok();
                    return Ok(found);
                }
                Err(e) => failed(replica, &e),
            }
        }
        let mut reading = self.read().await?;
        let found = query(&mut reading).await.map_err(db_error)?;
        reading.done().await?;
        Ok(found)
    }

    /// A reading on the replica, or `None` (counted) when the read must go to the primary.
    async fn replica_reading(&self, replica: &Replica) -> Result<Option<Reading>, StoreError> {
        let state = replica.health().state();
        if state != State::Healthy {
            health::fell_back(state.cause());
            return Ok(None);
        }
        // Past the commit record of every write already answered: with synchronous commit (the
        // default) a commit is answered once its record is flushed, so the flushed position is
        // enough, and it is all a replica can ever receive; the inserted position would make
        // reads wait for records the WAL writer has not flushed yet (up to wal_writer_delay) on
        // an idle primary. With `synchronous_commit = off` an answered commit may not be flushed
        // yet: then the inserted position.
        let fence: i64 = {
            let mut reading = self.read().await?;
            let at = reading
                .q(
                    "SELECT (CASE WHEN current_setting('synchronous_commit') = 'off'
                                 THEN pg_current_wal_insert_lsn()
                                 ELSE pg_current_wal_flush_lsn() END - '0/0'::pg_lsn)::bigint",
                )
                .fetch_one(&mut *reading)
                .await
                .and_then(|row| sqlx::Row::try_get(&row, 0))
                .map_err(db_error)?;
            reading.done().await?;
            at
        };
        match replica.reading_at(fence).await {
            Ok(Some(reading)) => Ok(Some(reading)),
            Ok(None) => {
                health::fell_back("behind");
                Ok(None)
            }
            Err(e) => {
                failed(replica, &e);
                Ok(None)
            }
        }
    }
}

/// Counts a read the replica could not serve; a lost connection also marks it down until the
/// monitor finds it again. A busy pool or a query cancelled by replay (a recovery conflict) says
/// nothing about the replica's health.
fn failed(replica: &Replica, e: &sqlx::Error) {
    match e {
        sqlx::Error::PoolTimedOut => health::fell_back("busy"),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            replica.health().down(&format!("a read failed: {e}"));
            health::fell_back("error");
        }
        _ => health::fell_back("error"),
    }
}
