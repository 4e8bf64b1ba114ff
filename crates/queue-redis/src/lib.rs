//! The job queue on Redis Streams, for a fleet of instances.
//!
//! Keys, all under one prefix (`dragoman:jobs` in production; each test its own):
//! - `P:q:{type}:1` and `P:q:{type}:0`: a stream per job type and lane (priority above zero, and
//!   the rest), each with the consumer group `workers`. A waiting job is an entry not yet
//!   delivered; an active one is in the group's pending list; a worker that dies leaves it there
//!   and another takes it with XAUTOCLAIM once it has been idle for the visibility timeout.
//! - `P:delayed`: a sorted set of jobs not yet due, scored by their run-at in microseconds of the
//!   injected clock; a script moves due ones to their stream.
//! - `P:dead`: the dead-letter stream, each entry the job with its last error and time of death.
//! - `P:k:{key}`: the idempotency key of a job not yet completed, holding its id.
//! - `P:kinds`: every job type enqueued.
//!
//! Each entry holds the whole job as one JSON field. The attempt count is the runs recorded in
//! the job (failures so far) plus the stream's own delivery count, so a run whose worker died
//! counts without a write per delivery. Scripts are used only for the moves that must be atomic
//! (a duplicate-checked add, a retry, a dead-letter, promoting delayed jobs, replay, purge), one
//! call per batch; reads and completions are plain commands, pipelined.
//!
//! On a Redis Cluster the prefix is a hash tag (`{P}:q:...`): every key of the
//! queue is in one slot, so the scripts, which build key names from the prefix, and the
//! pipelines that touch several keys run on the one node that holds them. One queue is then
//! served by one shard (its master, with its replica for failover); the cluster spreads the
//! rest of the keys. On a single Redis the names are unchanged.

mod admin;
mod enqueue;
mod reserve;
mod scripts;
mod settle;
mod stored;
mod values;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::{
    Clock, Delivery, Enqueued, JobQueue, JobRecord, JobState, NewJob, QueueCounts, QueueError,
};
use dragoman_redis::RedisConn;

const GROUP: &str = "workers";

/// The queue on one Redis.
#[derive(Clone)]
pub struct RedisQueue {
    conn: RedisConn,
    prefix: String,
    clock: Arc<dyn Clock>,
    /// Streams whose consumer group this process has created: a std mutex, nothing awaits
    /// while it is held.
    grouped: Arc<Mutex<HashSet<String>>>,
    /// When each stream was last swept for stalled jobs: at most twice per visibility timeout.
    swept: Arc<Mutex<HashMap<String, Instant>>>,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn err(e: redis::RedisError) -> QueueError {
    QueueError::Backend(anyhow::Error::new(e).context("Redis command failed"))
}

impl RedisQueue {
    /// Connects to the single Redis at `url` (plain or TLS); every key is under `prefix`. The
    /// connection reconnects by itself after Redis restarts.
    pub async fn connect(url: &str, prefix: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let (_, conn) = dragoman_redis::connect(url)
            .await
            .context("connecting to Redis")?;
        Ok(Self::new(conn, prefix, clock))
    }

    /// The queue on a connection already made (a single Redis or a cluster); every key is
    /// under `prefix`, made a hash tag on a cluster.
    pub fn new(conn: RedisConn, prefix: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            prefix: conn.tag(prefix),
            conn,
            clock,
            grouped: Arc::default(),
            swept: Arc::default(),
        }
    }

    fn stream(&self, kind: &str, lane: &str) -> String {
        format!("{}:q:{kind}:{lane}", self.prefix)
    }

    fn dead(&self) -> String {
        format!("{}:dead", self.prefix)
    }

    fn delayed(&self) -> String {
        format!("{}:delayed", self.prefix)
    }
}

/// The port, each operation in the module of its side of the queue: `enqueue`, `reserve`,
/// `settle` (complete, fail, release) and `admin` (list, replay, purge, counts, types).
#[async_trait::async_trait]
impl JobQueue for RedisQueue {
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
        self.add_jobs(jobs).await
    }

    async fn reserve(
        &self,
        kind: &str,
        worker: &str,
        max: usize,
        visibility: TimeDelta,
    ) -> Result<Vec<Delivery>, QueueError> {
        self.reserve_jobs(kind, worker, max, visibility).await
    }

    async fn complete(&self, done: &[Delivery]) -> Result<(), QueueError> {
        self.complete_jobs(done).await
    }

    async fn fail(
        &self,
        job: &Delivery,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        self.fail_job(job, error, retry_at).await
    }

    async fn release(&self, job: &Delivery) -> Result<(), QueueError> {
        self.release_job(job).await
    }

    async fn list(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        self.list_jobs(state, limit).await
    }

    async fn retry_dead(&self, id: &str) -> Result<bool, QueueError> {
        self.replay_dead(id).await
    }

    async fn purge_dead(&self) -> Result<u64, QueueError> {
        self.purge_dead_letters().await
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        self.count_jobs().await
    }

    async fn kinds(&self) -> Result<Vec<String>, QueueError> {
        self.known_kinds().await
    }
}
