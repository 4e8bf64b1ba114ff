//! Retention: the jobs that delete what the database would otherwise keep forever.
//!
//! - `retention-refresh-tokens`: refresh tokens that have expired (a revoked family goes with
//!   its last token);
//! - `retention-idempotency-keys`: idempotency keys older than their 24-hour window;
//! - `retention-offers`: explanations, then the offers of finished requests, older than
//!   RETENTION_DAYS. Requests, sessions and ratings stay.
//!
//! They are ordinary jobs of the queue (retried, dead-lettered, listed by `GET /v1/admin/jobs`),
//! due once an hour: every instance runs [`spawn_retention_schedule`], which enqueues the jobs
//! of the next hour under that hour's key as soon as the clock enters a new hour. The queue
//! keeps one live job per key, so a fleet adds each job once per hour, however many instances
//! ask. A run deletes in batches of [`BATCH`] rows, each its own short statement, and stops
//! after [`MAX_BATCHES`]: a backlog (the first run on an old database) is worked off over
//! several hours rather than in one long run. Deleting is idempotent, so a job that runs twice
//! deletes nothing the second time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use dragoman_ports::matching::IDEMPOTENCY_WINDOW;
use dragoman_ports::{Clock, Delivery, JobQueue, NewJob, RetentionStore, StoreError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{Handler, Policy};

/// Rows one statement deletes at most.
pub const BATCH: u32 = 1_000;
/// Batches one run deletes at most, per kind of record.
pub const MAX_BATCHES: u32 = 100;
/// How often the retention jobs are due.
pub const RETENTION_PERIOD: TimeDelta = TimeDelta::hours(1);

pub const RETENTION_REFRESH_TOKENS: &str = "retention-refresh-tokens";
pub const RETENTION_IDEMPOTENCY_KEYS: &str = "retention-idempotency-keys";
pub const RETENTION_OFFERS: &str = "retention-offers";

/// What one retention job deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    RefreshTokens,
    IdempotencyKeys,
    /// Explanations, then offers of finished requests, older than the retention.
    Offers,
}

impl Retention {
    pub const ALL: [Retention; 3] = [
        Retention::RefreshTokens,
        Retention::IdempotencyKeys,
        Retention::Offers,
    ];

    /// The job type.
    pub fn kind(self) -> &'static str {
        match self {
            Retention::RefreshTokens => RETENTION_REFRESH_TOKENS,
            Retention::IdempotencyKeys => RETENTION_IDEMPOTENCY_KEYS,
            Retention::Offers => RETENTION_OFFERS,
        }
    }
}

/// The start of the period after the one `now` is in: when the next retention jobs are due.
pub fn next_retention_due(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(RETENTION_PERIOD).unwrap_or(now) + RETENTION_PERIOD
}

/// The retention jobs due at `due`, keyed by it: enqueued by every instance, added once.
pub fn retention_jobs(due: DateTime<Utc>) -> Vec<NewJob> {
    let at = due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Retention::ALL
        .into_iter()
        .map(|r| {
            NewJob::new(
                r.kind(),
                format!("{}@{at}", r.kind()),
                serde_json::json!({ "due": at }),
            )
            .at(due)
        })
        .collect()
}

/// Enqueues the next period's retention jobs whenever the clock enters a new period (checked
/// every `check_every`), in a task of `tasks` until `stop` is cancelled. A failed enqueue is
/// tried again at the next check, and logged once per period (the queue's own outage is
/// reported elsewhere).
pub fn spawn_retention_schedule(
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    check_every: Duration,
    tasks: &TaskTracker,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(check_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut scheduled: Option<DateTime<Utc>> = None;
        let mut warned: Option<DateTime<Utc>> = None;
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let due = next_retention_due(clock.now());
            if scheduled == Some(due) {
                continue;
            }
            match queue.enqueue_many(retention_jobs(due)).await {
                Ok(_) => scheduled = Some(due),
                Err(e) if warned != Some(due) => {
                    warned = Some(due);
                    tracing::warn!(error = %format!("{e:#}"), "Scheduling the retention jobs failed; retrying");
                }
                Err(_) => {}
            }
        }
    })
}

/// Deletes with `delete` in batches of [`BATCH`] until one comes back short or [`MAX_BATCHES`]
/// have run; rows deleted, and whether some may remain.
async fn drain<F, Fut>(mut delete: F) -> Result<(u64, bool), StoreError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let n = delete(BATCH).await?;
        total += n;
        if n < u64::from(BATCH) {
            return Ok((total, false));
        }
    }
    Ok((total, true))
}

/// Runs one kind of retention job.
#[derive(Debug)]
pub struct RetentionHandler {
    which: Retention,
    store: Arc<dyn RetentionStore>,
    clock: Arc<dyn Clock>,
    /// RETENTION_DAYS: how long explanations and offers are kept.
    keep: TimeDelta,
}

impl RetentionHandler {
    pub fn new(
        which: Retention,
        store: Arc<dyn RetentionStore>,
        clock: Arc<dyn Clock>,
        keep: TimeDelta,
    ) -> Self {
        Self {
            which,
            store,
            clock,
            keep,
        }
    }

    /// One handler per retention job.
    pub fn all(
        store: Arc<dyn RetentionStore>,
        clock: Arc<dyn Clock>,
        keep: TimeDelta,
    ) -> Vec<Arc<dyn Handler>> {
        Retention::ALL
            .into_iter()
            .map(|r| Arc::new(Self::new(r, store.clone(), clock.clone(), keep)) as Arc<dyn Handler>)
            .collect()
    }

    /// Deletes what is due now; rows deleted per kind of record, and whether some may remain
    /// for the next run.
    pub async fn sweep(&self) -> anyhow::Result<(Vec<(&'static str, u64)>, bool)> {
        let now = self.clock.now();
        let store = &self.store;
        Ok(match self.which {
            Retention::RefreshTokens => {
                let (n, more) = drain(|l| store.delete_expired_refresh_tokens(now, l)).await?;
                (vec![("refreshTokens", n)], more)
            }
            Retention::IdempotencyKeys => {
                let before = now - IDEMPOTENCY_WINDOW;
                let (n, more) = drain(|l| store.delete_idempotency_keys(before, l)).await?;
                (vec![("idempotencyKeys", n)], more)
            }
            Retention::Offers => {
                let before = now - self.keep;
                let (e, more_e) = drain(|l| store.delete_explanations(before, l)).await?;
                let (o, more_o) = drain(|l| store.delete_finished_offers(before, l)).await?;
                (vec![("explanations", e), ("offers", o)], more_e || more_o)
            }
        })
    }
}

#[async_trait::async_trait]
impl Handler for RetentionHandler {
    fn kind(&self) -> &str {
        self.which.kind()
    }

    /// One at a time; a run of [`MAX_BATCHES`] short statements has minutes, and a failed one
    /// is retried within the hour.
    fn policy(&self) -> Policy {
        Policy {
            concurrency: 1,
            max_attempts: 5,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(600),
            timeout: Duration::from_secs(300),
            visibility: Duration::from_secs(600),
        }
    }

    async fn run(&self, _job: &Delivery) -> anyhow::Result<()> {
        let (deleted, more) = self.sweep().await?;
        let total: u64 = deleted.iter().map(|(_, n)| n).sum();
        if total > 0 || more {
            let counts = deleted
                .iter()
                .map(|(what, n)| format!("{what}={n}"))
                .collect::<Vec<_>>()
                .join(" ");
            tracing::info!(
                job = self.which.kind(),
                deleted = %counts,
                more,
                "Retention deleted old records"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 15, h, m, s)
            .single()
            .expect("an instant")
    }

    #[test]
    fn the_jobs_are_due_at_the_next_hour_under_its_key() {
        assert_eq!(next_retention_due(t(8, 0, 0)), t(9, 0, 0));
        assert_eq!(next_retention_due(t(8, 59, 59)), t(9, 0, 0));
        let jobs = retention_jobs(t(9, 0, 0));
        let keys: Vec<_> = jobs.iter().map(|j| j.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "retention-refresh-tokens@2027-01-15T09:00:00Z",
                "retention-idempotency-keys@2027-01-15T09:00:00Z",
                "retention-offers@2027-01-15T09:00:00Z",
            ]
        );
        assert!(jobs.iter().all(|j| j.run_at == Some(t(9, 0, 0))));
    }

    #[tokio::test]
    async fn a_drain_stops_at_a_short_batch_or_at_the_cap() {
        let mut left = 2_500u64;
        let (n, more) = drain(|limit| {
            let n = left.min(u64::from(limit));
            left -= n;
            async move { Ok(n) }
        })
        .await
        .expect("drain");
        assert_eq!((n, more), (2_500, false));

        let mut calls = 0;
        let (n, more) = drain(|limit| {
            calls += 1;
            async move { Ok(u64::from(limit)) }
        })
        .await
        .expect("drain");
        assert_eq!(calls, MAX_BATCHES);
        assert_eq!((n, more), (u64::from(BATCH * MAX_BATCHES), true));
    }
}
