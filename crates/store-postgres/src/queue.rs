//! The job queue on PostgreSQL: the `jobs` table (migration 0008), for an instance on PostgreSQL
//! without Redis.
//!
//! A reservation is one statement: the due jobs of a kind (and its stalled ones) are selected
//! `FOR UPDATE SKIP LOCKED`, in the order of `jobs_due_idx`, and marked active in the same
//! `UPDATE`. Concurrent workers, on this instance or another, skip the rows one of them has
//! locked instead of waiting for it, and never take the same job. Each hand-out raises `lease`;
//! completions and failures match on it, so the late answer of a worker that stalled cannot
//! touch the job another now holds. Time is the injected clock's, as in the embedded queue: the
//! database's own `now()` is never read.
//!
//! Statements follow the store's recipe ([`PgStore::q`], each inside a transaction), so the
//! queue works directly and through PgBouncer in transaction pooling. There is no `LISTEN`:
//! workers poll, which a transaction pooler allows.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::{
    Clock, Delivery, Enqueued, JobQueue, JobRecord, JobState, NewJob, QueueCounts, QueueError,
    StoreError,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::{PgStore, db_error};

/// The queue on the store's database.
#[derive(Debug, Clone)]
pub struct PgQueue {
    pub(crate) store: PgStore,
    pub(crate) clock: Arc<dyn Clock>,
}

impl PgStore {
    /// The job queue in this store's database, reading time from `clock`.
    pub fn queue(&self, clock: Arc<dyn Clock>) -> PgQueue {
        PgQueue {
            store: self.clone(),
            clock,
        }
    }
}

pub(crate) fn backend(e: StoreError) -> QueueError {
    match e {
        StoreError::Backend(e) => QueueError::Backend(e),
        other => QueueError::Backend(anyhow::Error::new(other)),
    }
}

pub(crate) fn sql(e: sqlx::Error) -> QueueError {
    backend(db_error(e))
}

/// The reservation. The picked ids go to the `UPDATE` as an array, which it finds through the
/// primary key: joined to `picked` instead, the planner hashed the whole table (30 ms rather than
/// 15 for 500 of 50,000 jobs).
const RESERVE: &str = "WITH due AS (
        SELECT id, priority, run_at, seq FROM jobs
        WHERE kind = $1 AND state = 'waiting' AND run_at <= $2
        ORDER BY priority DESC, run_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED
    ), stalled AS (
        SELECT id, priority, run_at, seq FROM jobs
        WHERE kind = $1 AND state = 'active' AND locked_until <= $2
        ORDER BY locked_until LIMIT $3 FOR UPDATE SKIP LOCKED
    ), picked AS (
        SELECT id FROM (SELECT * FROM due UNION ALL SELECT * FROM stalled) c
        ORDER BY priority DESC, run_at, seq LIMIT $3
    )
    UPDATE jobs j SET state = 'active', attempts = j.attempts + 1, worker = $4,
        locked_until = $5, lease = j.lease + 1, updated_at = $2
    WHERE j.id = ANY (ARRAY (SELECT id FROM picked))
    RETURNING j.id, j.seq, j.kind, j.payload, j.job_key, j.attempts, j.enqueued_at, j.run_at,
        j.lease, j.priority";

#[async_trait::async_trait]
impl JobQueue for PgQueue {
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let ids: Vec<Uuid> = jobs.iter().map(|_| Uuid::now_v7()).collect();
        let mut tx = self.store.begin().await.map_err(backend)?;
        // One statement per batch. A key repeated within the batch is inserted once, at its
        // first place: rows go in in the batch's order and ON CONFLICT skips the later ones.
        let added: HashSet<Uuid> = self
            .store
            .q("INSERT INTO jobs (id, kind, payload, job_key, priority, state, run_at, enqueued_at, updated_at)
                SELECT j.id, j.kind, j.payload::jsonb, j.job_key, j.priority, 'waiting', j.run_at, $7, $7
                FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::timestamptz[])
                     WITH ORDINALITY AS j (id, kind, payload, job_key, priority, run_at, n)
                ORDER BY j.n
                ON CONFLICT (job_key) DO NOTHING
                RETURNING id")
            .bind(ids.clone())
            .bind(jobs.iter().map(|j| j.kind.clone()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.payload.to_string()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.key.clone()).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.priority).collect::<Vec<_>>())
            .bind(jobs.iter().map(|j| j.run_at.unwrap_or(now)).collect::<Vec<_>>())
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(sql)?
            .iter()
            .map(|row| row.try_get::<Uuid, _>("id"))
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        tx.commit().await.map_err(sql)?;
        Ok(ids
            .into_iter()
            .map(|id| {
                if added.contains(&id) {
                    Enqueued::Added(id.to_string())
                } else {
                    Enqueued::Duplicate
                }
            })
            .collect())
    }

    async fn reserve(
        &self,
        kind: &str,
        worker: &str,
        max: usize,
        visibility: TimeDelta,
    ) -> Result<Vec<Delivery>, QueueError> {
        let now = self.clock.now();
        let locked_until = now
            .checked_add_signed(visibility)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut tx = self.store.begin().await.map_err(backend)?;
        let rows = self
            .store
            .q(RESERVE)
            .bind(kind.to_owned())
            .bind(now)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .bind(worker.to_owned())
            .bind(locked_until)
            .fetch_all(&mut *tx)
            .await
            .map_err(sql)?;
        tx.commit().await.map_err(sql)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let priority: i32 = row.try_get("priority").map_err(sql)?;
            let seq: i64 = row.try_get("seq").map_err(sql)?;
            out.push((priority, seq, delivery(row)?));
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
        if done.is_empty() {
            return Ok(());
        }
        let (ids, leases): (Vec<Uuid>, Vec<i64>) =
            done.iter().map(receipt).collect::<Result<_, _>>()?;
        let mut tx = self.store.begin().await.map_err(backend)?;
        self.store
            .q(
                "DELETE FROM jobs j USING unnest($1::uuid[], $2::int8[]) AS d (id, lease)
                WHERE j.id = d.id AND j.lease = d.lease AND j.state = 'active'",
            )
            .bind(ids)
            .bind(leases)
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
        tx.commit().await.map_err(sql)
    }

    async fn fail(
        &self,
        job: &Delivery,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let now = self.clock.now();
        let (id, lease) = receipt(job)?;
        // A dead job's run_at is when it died: the lists and the purge read it through
        // jobs_state_idx.
        let (state, run_at) = match retry_at {
            Some(t) => ("waiting", t),
            None => ("dead", now),
        };
        self.one(
            self.store
                .q(
                    "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, updated_at = $4,
                        locked_until = NULL, worker = NULL
                    WHERE id = $5 AND lease = $6 AND state = 'active'",
                )
                .bind(state)
                .bind(run_at)
                .bind(error.to_owned())
                .bind(now)
                .bind(id)
                .bind(lease),
        )
        .await
        .map(drop)
    }

    async fn release(&self, job: &Delivery) -> Result<(), QueueError> {
        let (id, lease) = receipt(job)?;
        self.one(
            self.store
                .q(
                    "UPDATE jobs SET state = 'waiting', attempts = greatest(attempts - 1, 0),
                        updated_at = $1, locked_until = NULL, worker = NULL
                    WHERE id = $2 AND lease = $3 AND state = 'active'",
                )
                .bind(self.clock.now())
                .bind(id)
                .bind(lease),
        )
        .await
        .map(drop)
    }

    async fn list(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        crate::queue_operators::list(self, state, limit).await
    }

    async fn retry_dead(&self, id: &str) -> Result<bool, QueueError> {
        crate::queue_operators::retry_dead(self, id).await
    }

    async fn purge_dead(&self) -> Result<u64, QueueError> {
        self.one(self.store.q("DELETE FROM jobs WHERE state = 'dead'"))
            .await
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        crate::queue_operators::counts(self).await
    }

    async fn kinds(&self) -> Result<Vec<String>, QueueError> {
        crate::queue_operators::kinds(self).await
    }
}

impl PgQueue {
    /// Runs one writing statement in a transaction of its own; how many rows it touched.
    pub(crate) async fn one(
        &self,
        query: sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<u64, QueueError> {
        let mut tx = self.store.begin().await.map_err(backend)?;
        let done = query.execute(&mut *tx).await.map_err(sql)?;
        tx.commit().await.map_err(sql)?;
        Ok(done.rows_affected())
    }
}

fn delivery(row: &PgRow) -> Result<Delivery, QueueError> {
    let id: Uuid = row.try_get("id").map_err(sql)?;
    let lease: i64 = row.try_get("lease").map_err(sql)?;
    let attempts: i32 = row.try_get("attempts").map_err(sql)?;
    Ok(Delivery {
        id: id.to_string(),
        kind: row.try_get("kind").map_err(sql)?,
        payload: row.try_get("payload").map_err(sql)?,
        key: row.try_get("job_key").map_err(sql)?,
        attempt: u32::try_from(attempts).unwrap_or(0),
        enqueued_at: row.try_get("enqueued_at").map_err(sql)?,
        due_at: row.try_get("run_at").map_err(sql)?,
        receipt: format!("{id}:{lease}"),
    })
}

/// The job and the hand-out a receipt names (`{id}:{lease}`).
fn receipt(job: &Delivery) -> Result<(Uuid, i64), QueueError> {
    let bad = || {
        QueueError::Backend(anyhow::anyhow!(
            "not a receipt of this queue: {}",
            job.receipt
        ))
    };
    let (id, lease) = job.receipt.split_once(':').ok_or_else(bad)?;
    Ok((
        Uuid::parse_str(id).map_err(|_| bad())?,
        lease.parse().map_err(|_| bad())?,
    ))
}
