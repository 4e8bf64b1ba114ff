//! The PostgreSQL job queue as operators and the gauges see it: the lists, the counts, the
//! kinds workers look for handlers of, and the replay of a dead job.
//!
//! Each read is served by an index of migration 0008, so that its cost follows what it returns,
//! not how many jobs the table holds: the lists and counts by `jobs_state_idx`, the kinds by a
//! skip scan (one probe per kind) of the two partial indexes led by `kind`.

use chrono::{DateTime, Utc};
use dragoman_ports::{JobRecord, JobState, QueueCounts, QueueError};
use sqlx::Row;

use crate::queue::{PgQueue, backend as store_error, sql as queue_error};

/// The columns of a [`JobRecord`], before a `FROM` clause (a macro: `concat!` takes literals).
macro_rules! select {
    ($rest:literal $(,)?) => {
        concat!(
            "SELECT id, kind, payload, job_key, attempts, last_error, enqueued_at, run_at, updated_at ",
            $rest
        )
    };
}

pub(crate) async fn list(
    queue: &PgQueue,
    state: JobState,
    limit: usize,
) -> Result<Vec<JobRecord>, QueueError> {
    // Waiting and delayed are both `waiting` rows, split at now; a dead job's run_at is when it
    // died; an active job's updated_at is when it was handed out.
    let query = match state {
        JobState::Waiting => select!(
            "FROM jobs WHERE state = 'waiting' AND run_at <= $1 ORDER BY run_at, seq LIMIT $2",
        ),
        JobState::Delayed => select!(
            "FROM jobs WHERE state = 'waiting' AND run_at > $1 ORDER BY run_at, seq LIMIT $2",
        ),
        JobState::Active => select!(
            "FROM jobs WHERE state = 'active' AND $1::timestamptz IS NOT NULL ORDER BY updated_at, seq LIMIT $2",
        ),
        JobState::Dead => select!(
            "FROM jobs WHERE state = 'dead' AND $1::timestamptz IS NOT NULL ORDER BY run_at, seq LIMIT $2",
        ),
    };
    let store = &queue.store;
    let mut tx = store.begin().await.map_err(store_error)?;
    let rows = store
        .q(query)
        .bind(queue.clock.now())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(queue_error)?;
    tx.commit().await.map_err(queue_error)?;
    rows.iter()
        .map(|row| {
            let id: uuid::Uuid = row.try_get("id").map_err(queue_error)?;
            let attempts: i32 = row.try_get("attempts").map_err(queue_error)?;
            let at: Result<DateTime<Utc>, _> = match state {
                JobState::Active => row.try_get("updated_at"),
                _ => row.try_get("run_at"),
            };
            Ok(JobRecord {
                id: id.to_string(),
                kind: row.try_get("kind").map_err(queue_error)?,
                payload: row.try_get("payload").map_err(queue_error)?,
                key: row.try_get("job_key").map_err(queue_error)?,
                state,
                attempts: u32::try_from(attempts).unwrap_or(0),
                last_error: row.try_get("last_error").map_err(queue_error)?,
                enqueued_at: row.try_get("enqueued_at").map_err(queue_error)?,
                at: at.map_err(queue_error)?,
            })
        })
        .collect()
}

pub(crate) async fn counts(queue: &PgQueue) -> Result<QueueCounts, QueueError> {
    let store = &queue.store;
    let mut tx = store.begin().await.map_err(store_error)?;
    // Four range counts on jobs_state_idx rather than one pass over the whole table.
    let row = store
        .q("SELECT
                (SELECT count(*) FROM jobs WHERE state = 'waiting' AND run_at <= $1) AS waiting,
                (SELECT count(*) FROM jobs WHERE state = 'waiting' AND run_at > $1) AS delayed,
                (SELECT count(*) FROM jobs WHERE state = 'active') AS active,
                (SELECT count(*) FROM jobs WHERE state = 'dead') AS dead")
        .bind(queue.clock.now())
        .fetch_one(&mut *tx)
        .await
        .map_err(queue_error)?;
    tx.commit().await.map_err(queue_error)?;
    let n = |c: &str| -> Result<u64, QueueError> {
        let v: i64 = row.try_get(c).map_err(queue_error)?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    Ok(QueueCounts {
        waiting: n("waiting")?,
        delayed: n("delayed")?,
        active: n("active")?,
        dead: n("dead")?,
    })
}

/// The kinds of waiting and active jobs (a dead job needs no handler). Each recursive step finds
/// the next kind after the last one in a partial index led by `kind`: a few probes, where
/// `SELECT DISTINCT` would read every row, and workers ask about once a second.
pub(crate) async fn kinds(queue: &PgQueue) -> Result<Vec<String>, QueueError> {
    let store = &queue.store;
    let mut tx = store.begin().await.map_err(store_error)?;
    let kinds: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE waiting (kind) AS (
             (SELECT kind FROM jobs WHERE state = 'waiting' ORDER BY kind LIMIT 1)
             UNION ALL
             SELECT (SELECT j.kind FROM jobs j WHERE j.state = 'waiting' AND j.kind > w.kind
                     ORDER BY j.kind LIMIT 1)
             FROM waiting w WHERE w.kind IS NOT NULL
         ), active (kind) AS (
             (SELECT kind FROM jobs WHERE state = 'active' ORDER BY kind LIMIT 1)
             UNION ALL
             SELECT (SELECT j.kind FROM jobs j WHERE j.state = 'active' AND j.kind > a.kind
                     ORDER BY j.kind LIMIT 1)
             FROM active a WHERE a.kind IS NOT NULL
         )
         SELECT kind FROM waiting WHERE kind IS NOT NULL
         UNION
         SELECT kind FROM active WHERE kind IS NOT NULL
         ORDER BY kind",
    )
    .persistent(store.persistent)
    .fetch_all(&mut *tx)
    .await
    .map_err(queue_error)?;
    tx.commit().await.map_err(queue_error)?;
    Ok(kinds)
}

/// A dead job back to waiting, due now, its attempts reset; `false` if no dead job has this id.
pub(crate) async fn retry_dead(queue: &PgQueue, id: &str) -> Result<bool, QueueError> {
    // An id this queue cannot have given is no dead job of it.
    let Ok(id) = uuid::Uuid::parse_str(id) else {
        return Ok(false);
    };
    let moved = queue
        .one(
            queue
                .store
                .q(
                    "UPDATE jobs SET state = 'waiting', attempts = 0, run_at = $1, updated_at = $1
                    WHERE id = $2 AND state = 'dead'",
                )
                .bind(queue.clock.now())
                .bind(id),
        )
        .await?;
    Ok(moved == 1)
}
