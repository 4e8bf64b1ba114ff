//! The embedded job queue: one `jobs` table in the store's file (migration 0004).
//!
//! Every move is one statement or one immediate write transaction on the single writer
//! connection, so two workers can never take one job: a reserve is an `UPDATE ... RETURNING` of
//! the rows it selected. A stalled job is an `active` row past its `locked_until`; the next
//! reserve of its type takes it. Each hand-out bumps `lease`, and completions and failures match
//! on it, so the late answer of a worker that stalled cannot touch the job another now holds.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::{
    Clock, Delivery, Enqueued, JobQueue, JobRecord, JobState, NewJob, QueueCounts, QueueError,
    StoreError,
};
use sqlx::{Row, SqlitePool};

use crate::{SqliteStore, begin_write, db_error, instant, micros};

/// The queue on the store's SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    writer: SqlitePool,
    reader: SqlitePool,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// The job queue in this store's file, reading time from `clock`.
    pub fn queue(&self, clock: Arc<dyn Clock>) -> SqliteQueue {
        SqliteQueue {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            clock,
        }
    }
}

fn backend(e: impl Into<StoreError>) -> QueueError {
    match e.into() {
        StoreError::Backend(e) => QueueError::Backend(e),
        other => QueueError::Backend(anyhow::Error::new(other)),
    }
}

fn sql(e: sqlx::Error) -> QueueError {
    backend(db_error(e))
}

fn payload_of(text: &str) -> Result<serde_json::Value, QueueError> {
    serde_json::from_str(text)
        .map_err(|e| QueueError::Backend(anyhow::anyhow!("corrupt job payload: {e}")))
}

fn at(us: i64) -> Result<DateTime<Utc>, QueueError> {
    instant(us).map_err(backend)
}

#[async_trait::async_trait]
impl JobQueue for SqliteQueue {
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
        let now = self.clock.now();
        let mut tx = begin_write(&self.writer).await.map_err(backend)?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let id = uuid::Uuid::now_v7().to_string();
            let done = sqlx::query(
                "INSERT INTO jobs (id, kind, payload, job_key, priority, state, run_at, enqueued_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?, ?) ON CONFLICT (job_key) DO NOTHING",
            )
            .bind(&id)
            .bind(&job.kind)
            .bind(job.payload.to_string())
            .bind(&job.key)
            .bind(job.priority)
            .bind(micros(job.run_at.unwrap_or(now)))
            .bind(micros(now))
            .bind(micros(now))
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
            out.push(if done.rows_affected() == 1 {
                Enqueued::Added(id)
            } else {
                Enqueued::Duplicate
            });
        }
        tx.commit().await.map_err(sql)?;
        Ok(out)
    }

    async fn reserve(
        &self,
        kind: &str,
        worker: &str,
        max: usize,
        visibility: TimeDelta,
    ) -> Result<Vec<Delivery>, QueueError> {
        let now = micros(self.clock.now());
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'active', attempts = attempts + 1, worker = ?1,
                 locked_until = ?2, lease = lease + 1, updated_at = ?3
             WHERE seq IN (
                 SELECT seq FROM jobs WHERE kind = ?4 AND (
                     (state = 'waiting' AND run_at <= ?3) OR (state = 'active' AND locked_until <= ?3))
                 ORDER BY priority DESC, run_at, seq LIMIT ?5)
             RETURNING seq, id, kind, payload, job_key, attempts, enqueued_at, run_at, lease, priority",
        )
        .bind(worker)
        .bind(now + visibility.num_microseconds().unwrap_or(i64::MAX / 4))
        .bind(now)
        .bind(kind)
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .fetch_all(&self.writer)
        .await
        .map_err(sql)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.get("seq");
            let lease: i64 = row.get("lease");
            let attempts: i64 = row.get("attempts");
            out.push((
                row.get::<i32, _>("priority"),
                seq,
                Delivery {
                    id: row.get("id"),
                    kind: row.get("kind"),
                    payload: payload_of(row.get("payload"))?,
                    key: row.get("job_key"),
                    attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                    enqueued_at: at(row.get("enqueued_at"))?,
                    due_at: at(row.get("run_at"))?,
                    receipt: format!("{seq}:{lease}"),
                },
            ));
        }
        // RETURNING gives rows in no promised order.
        out.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.2.due_at.cmp(&b.2.due_at))
                .then(a.1.cmp(&b.1))
        });
        Ok(out.into_iter().map(|(_, _, d)| d).collect())
    }

    async fn complete(&self, done: &[Delivery]) -> Result<(), QueueError> {
        let mut tx = begin_write(&self.writer).await.map_err(backend)?;
        for job in done {
            let (seq, lease) = receipt(job)?;
            sqlx::query("DELETE FROM jobs WHERE seq = ? AND lease = ? AND state = 'active'")
                .bind(seq)
                .bind(lease)
                .execute(&mut *tx)
                .await
                .map_err(sql)?;
        }
        tx.commit().await.map_err(sql)
    }

    async fn fail(
        &self,
        job: &Delivery,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let now = self.clock.now();
        let (seq, lease) = receipt(job)?;
        let (state, run_at) = match retry_at {
            Some(t) => ("waiting", t),
            None => ("dead", now),
        };
        sqlx::query(
            "UPDATE jobs SET state = ?, run_at = ?, last_error = ?, updated_at = ?,
                 locked_until = NULL, worker = NULL
             WHERE seq = ? AND lease = ? AND state = 'active'",
        )
        .bind(state)
        .bind(micros(run_at))
        .bind(error)
        .bind(micros(now))
        .bind(seq)
        .bind(lease)
        .execute(&self.writer)
        .await
        .map_err(sql)?;
        Ok(())
    }

    async fn release(&self, job: &Delivery) -> Result<(), QueueError> {
        let now = micros(self.clock.now());
        let (seq, lease) = receipt(job)?;
        sqlx::query(
            "UPDATE jobs SET state = 'waiting', attempts = max(attempts - 1, 0), updated_at = ?,
                 locked_until = NULL, worker = NULL
             WHERE seq = ? AND lease = ? AND state = 'active'",
        )
        .bind(now)
        .bind(seq)
        .bind(lease)
        .execute(&self.writer)
        .await
        .map_err(sql)?;
        Ok(())
    }

    async fn list(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        let now = micros(self.clock.now());
        let query = match state {
            JobState::Waiting => concat!(
                "SELECT id, kind, payload, job_key, attempts, last_error, enqueued_at, run_at, updated_at",
                " FROM jobs WHERE state = 'waiting' AND run_at <= ? ORDER BY run_at, seq LIMIT ?"
            ),
            JobState::Delayed => concat!(
                "SELECT id, kind, payload, job_key, attempts, last_error, enqueued_at, run_at, updated_at",
                " FROM jobs WHERE state = 'waiting' AND run_at > ? ORDER BY run_at, seq LIMIT ?"
            ),
            JobState::Active => concat!(
                "SELECT id, kind, payload, job_key, attempts, last_error, enqueued_at, run_at, updated_at",
                " FROM jobs WHERE state = 'active' AND ? IS NOT NULL ORDER BY updated_at, seq LIMIT ?"
            ),
            JobState::Dead => concat!(
                "SELECT id, kind, payload, job_key, attempts, last_error, enqueued_at, run_at, updated_at",
                " FROM jobs WHERE state = 'dead' AND ? IS NOT NULL ORDER BY updated_at, seq LIMIT ?"
            ),
        };
        let rows = sqlx::query(query)
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await
            .map_err(sql)?;
        rows.into_iter()
            .map(|row| {
                let attempts: i64 = row.get("attempts");
                let at_us: i64 = match state {
                    JobState::Waiting | JobState::Delayed => row.get("run_at"),
                    _ => row.get("updated_at"),
                };
                Ok(JobRecord {
                    id: row.get("id"),
                    kind: row.get("kind"),
                    payload: payload_of(row.get("payload"))?,
                    key: row.get("job_key"),
                    state,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    last_error: row.get("last_error"),
                    enqueued_at: at(row.get("enqueued_at"))?,
                    at: at(at_us)?,
                })
            })
            .collect()
    }

    async fn retry_dead(&self, id: &str) -> Result<bool, QueueError> {
        let now = micros(self.clock.now());
        let done = sqlx::query(
            "UPDATE jobs SET state = 'waiting', attempts = 0, run_at = ?, updated_at = ?
             WHERE id = ? AND state = 'dead'",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(sql)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_dead(&self) -> Result<u64, QueueError> {
        let done = sqlx::query("DELETE FROM jobs WHERE state = 'dead'")
            .execute(&self.writer)
            .await
            .map_err(sql)?;
        Ok(done.rows_affected())
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let now = micros(self.clock.now());
        let row = sqlx::query(
            "SELECT
                 coalesce(sum(state = 'waiting' AND run_at <= ?1), 0) AS waiting,
                 coalesce(sum(state = 'waiting' AND run_at > ?1), 0) AS delayed,
                 coalesce(sum(state = 'active'), 0) AS active,
                 coalesce(sum(state = 'dead'), 0) AS dead
             FROM jobs",
        )
        .bind(now)
        .fetch_one(&self.reader)
        .await
        .map_err(sql)?;
        let n = |c: &str| u64::try_from(row.get::<i64, _>(c)).unwrap_or(0);
        Ok(QueueCounts {
            waiting: n("waiting"),
            delayed: n("delayed"),
            active: n("active"),
            dead: n("dead"),
        })
    }

    async fn kinds(&self) -> Result<Vec<String>, QueueError> {
        self.distinct_kinds().await
    }
}

impl SqliteQueue {
    async fn distinct_kinds(&self) -> Result<Vec<String>, QueueError> {
        sqlx::query_scalar("SELECT DISTINCT kind FROM jobs WHERE state != 'dead'")
            .fetch_all(&self.reader)
            .await
            .map_err(sql)
    }
}

fn receipt(job: &Delivery) -> Result<(i64, i64), QueueError> {
    let bad = || {
        QueueError::Backend(anyhow::anyhow!(
            "not a receipt of this queue: {}",
            job.receipt
        ))
    };
    let (seq, lease) = job.receipt.split_once(':').ok_or_else(bad)?;
    Ok((
        seq.parse().map_err(|_| bad())?,
        lease.parse().map_err(|_| bad())?,
    ))
}
