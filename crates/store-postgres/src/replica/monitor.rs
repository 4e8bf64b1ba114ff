//! The background check of the replica: every quarter of DATABASE_READ_MAX_LAG_MS (between
//! 100 ms and 1 s), the primary's WAL position, then the replica's replayed and received
//! positions and the age of its last replayed transaction. Reads never wait for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::Row;

use super::health::Health;
use super::lag::LagClock;
use crate::Reading;

/// What one check found.
#[derive(Debug)]
pub(crate) struct Check {
    lag: Duration,
    /// Received but not yet replayed: WAL is arriving, replay is slow or paused.
    unreplayed_bytes: i64,
}

pub(crate) struct Monitor {
    primary: PgPool,
    replica: PgPool,
    persistent: bool,
    max_lag: Duration,
    clock: LagClock,
}

impl Monitor {
    pub(crate) fn new(
        primary: PgPool,
        replica: PgPool,
        persistent: bool,
        max_lag: Duration,
    ) -> Self {
        Self {
            primary,
            replica,
            persistent,
            max_lag,
            clock: LagClock::default(),
        }
    }

    /// How often the replica is checked: often enough that a lag past the limit is seen within a
    /// quarter of it, rarely enough to cost nothing.
    fn interval(&self) -> Duration {
        (self.max_lag / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// Measures the lag once; `None` when the primary could not be asked (that says nothing about
    /// the replica, and the store's own errors tell of the primary). The primary's position is
    /// read first, so that a replica caught up by the time it is asked counts as caught up.
    pub(crate) async fn check(&mut self) -> anyhow::Result<Option<Check>> {
        let Ok(primary) = self.primary_position().await else {
            return Ok(None);
        };
        let mut reading = Reading::on(&self.replica, self.persistent).await?;
        let row = reading
            .q("SELECT pg_is_in_recovery() AS standby,
                       (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed,
                       (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::bigint AS received,
                       (EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
                        * 1000)::bigint AS replay_age_ms")
            .fetch_one(&mut *reading)
            .await?;
        reading.done().await.ok();
        let standby: bool = row.try_get("standby")?;
        if !standby {
            anyhow::bail!("the server is not a standby (pg_is_in_recovery() is false)");
        }
        let replayed: Option<i64> = row.try_get("replayed")?;
        let received: Option<i64> = row.try_get("received")?;
        let replay_age: Option<i64> = row.try_get("replay_age_ms")?;
        let replayed = replayed.unwrap_or(0);
        let lag = self.clock.lag(
            Instant::now(),
            u64::try_from(primary).unwrap_or(0),
            u64::try_from(replayed).unwrap_or(0),
            replay_age.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        );
        Ok(Some(Check {
            lag,
            unreplayed_bytes: received.map_or(0, |r| (r - replayed).max(0)),
        }))
    }

    async fn primary_position(&self) -> Result<i64, sqlx::Error> {
        // Unnamed, in a transaction: right whatever the primary pool's pooler mode, and free at
        // this rate.
        let mut reading = Reading::on(&self.primary, false).await?;
        let at: i64 = reading
            .q("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
            .fetch_one(&mut *reading)
            .await?
            .try_get(0)?;
        reading.done().await.ok();
        Ok(at)
    }

    pub(crate) fn report(&self, health: &Health, check: Check) {
        health.measured(
            check.lag,
            self.max_lag,
            &format!("{} bytes received and not replayed", check.unreplayed_bytes),
        );
    }

    /// Checks until the replica is dropped (the task is aborted then).
    pub(crate) async fn run(mut self, health: Arc<Health>) {
        let mut every = tokio::time::interval(self.interval());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            match tokio::time::timeout(self.interval().max(Duration::from_secs(2)), self.check())
                .await
            {
                Ok(Ok(Some(check))) => self.report(&health, check),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => health.down(&format!("{e:#}")),
                Err(_) => health.down(&"the check did not answer in time"),
            }
        }
    }
}
