//! The relay of the session-summary outbox: ending a session writes an outbox row in its own
//! transaction, and the engine enqueues the summary right after the commit. Should the process die
//! between the two (or the queue refuse the enqueue), the row stays; this relay enqueues the
//! summary of every row older than a grace period. The job's key is the session's, so a summary
//! still queued is not added twice, and one already written deleted its row.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::{Clock, Enqueued, JobEffects, JobQueue};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::session_summary_job;

/// Most summaries one pass enqueues; the next pass takes the rest.
const BATCH: usize = 500;

/// Enqueues the summary of every session that ended before `ended_before` and has none yet;
/// how many jobs were added (the others were still queued, or dead-lettered).
pub async fn relay_owed_summaries(
    effects: &dyn JobEffects,
    queue: &dyn JobQueue,
    ended_before: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let owed = effects.owed_session_summaries(ended_before, BATCH).await?;
    if owed.is_empty() {
        return Ok(0);
    }
    let jobs = owed
        .iter()
        .map(session_summary_job)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let added = queue
        .enqueue_many(jobs)
        .await?
        .iter()
        .filter(|e| matches!(e, Enqueued::Added(_)))
        .count();
    if added > 0 {
        tracing::warn!(
            summaries = added,
            "Enqueued session summaries the outbox still owed (their first enqueue was lost)"
        );
    }
    Ok(added)
}

/// Relays every `every`, for rows older than `grace` (the engine's own enqueue comes first), in
/// a task of `tasks` until `stop` is cancelled.
pub fn spawn_summary_relay(
    effects: Arc<dyn JobEffects>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    every: Duration,
    grace: Duration,
    tasks: &TaskTracker,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::minutes(1));
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let before = clock.now() - grace;
            if let Err(e) = relay_owed_summaries(effects.as_ref(), queue.as_ref(), before).await {
                tracing::warn!(error = %format!("{e:#}"), "Relaying owed session summaries failed; retrying");
            }
        }
    })
}
