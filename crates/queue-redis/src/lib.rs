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

mod scripts;
mod values;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_ports::{
    Clock, Delivery, Enqueued, JobQueue, JobRecord, JobState, NewJob, QueueCounts, QueueError,
};
use dragoman_redis::RedisConn;
use serde::{Deserialize, Serialize};

use crate::values::{Entry, as_i64, entries, text};

const GROUP: &str = "workers";

/// How long an enqueue on a cluster waits for a replica to confirm it: a replica that is in
/// sync answers within a round trip; one missing (after a failover, until the old master
/// rejoins) costs each enqueue this long.
const REPLICA_WAIT: Duration = Duration::from_millis(200);

/// A job as stored in a stream entry, the delayed set and the dead-letter stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    id: String,
    kind: String,
    key: String,
    payload: serde_json::Value,
    /// Runs that ended (failed) before this entry was written.
    attempts: u32,
    enqueued_at: i64,
    due_at: i64,
    priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    died_at: Option<i64>,
}

impl Stored {
    fn lane(&self) -> &'static str {
        if self.priority > 0 { "1" } else { "0" }
    }
}

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

fn us(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn from_us(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

fn decode(json: &str) -> Result<Stored, QueueError> {
    serde_json::from_str(json)
        .map_err(|e| QueueError::Backend(anyhow::anyhow!("corrupt job in Redis: {e}")))
}

fn encode(job: &Stored) -> String {
    // A struct of strings, numbers and a JSON value always serialises.
    serde_json::to_string(job).unwrap_or_default()
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

    async fn ensure_group(&self, stream: &str) -> Result<(), QueueError> {
        if self
            .grouped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(stream)
        {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let made: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match made {
            Ok(()) => {}
            Err(e) if e.to_string().contains("BUSYGROUP") => {}
            Err(e) => return Err(err(e)),
        }
        self.grouped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stream.to_owned());
        Ok(())
    }

    /// Forgets which groups exist: after a Redis that lost its data comes back, they are made
    /// again at the next reserve.
    fn forget_groups(&self, e: &QueueError) {
        if e.to_string().contains("NOGROUP") || format!("{e:#}").contains("NOGROUP") {
            self.grouped
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
    }

    /// Moves delayed jobs that are due into their streams.
    async fn promote(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = scripts::promote()
            .key(self.delayed())
            .arg(&self.prefix)
            .arg(us(self.clock.now()))
            .arg(500)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// The delivery of an entry read from `stream`, its run counted with `delivered`.
    fn delivery(
        &self,
        stream: &str,
        entry: &Entry,
        delivered: u32,
    ) -> Result<Delivery, QueueError> {
        let job = decode(&entry.json)?;
        Ok(Delivery {
            id: job.id,
            kind: job.kind,
            payload: job.payload,
            key: job.key,
            attempt: job.attempts.saturating_add(delivered.max(1)),
            enqueued_at: from_us(job.enqueued_at),
            due_at: from_us(job.due_at),
            receipt: format!("{stream}|{}", entry.id),
        })
    }

    async fn claim_stalled(
        &self,
        stream: &str,
        worker: &str,
        max: usize,
        visibility: TimeDelta,
    ) -> Result<Vec<Delivery>, QueueError> {
        let every = visibility.to_std().unwrap_or(Duration::from_secs(60)) / 2;
        {
            let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if swept
                .get(stream)
                .is_some_and(|last| now.duration_since(*last) < every)
            {
                return Ok(Vec::new());
            }
            swept.insert(stream.to_owned(), now);
        }
        let mut conn = self.conn.clone();
        let reply: redis::Value = redis::cmd("XAUTOCLAIM")
            .arg(stream)
            .arg(GROUP)
            .arg(worker)
            .arg(visibility.num_milliseconds().max(1))
            .arg("0-0")
            .arg("COUNT")
            .arg(max)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let claimed = match &reply {
            redis::Value::Array(parts) if parts.len() >= 2 => entries(&parts[1]),
            _ => Vec::new(),
        };
        let mut out = Vec::with_capacity(claimed.len());
        for entry in claimed {
            let pending: redis::Value = redis::cmd("XPENDING")
                .arg(stream)
                .arg(GROUP)
                .arg(&entry.id)
                .arg(&entry.id)
                .arg(1)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            let delivered = match &pending {
                redis::Value::Array(rows) => rows
                    .first()
                    .and_then(|r| match r {
                        redis::Value::Array(f) => f.get(3).and_then(as_i64),
                        _ => None,
                    })
                    .unwrap_or(1),
                _ => 1,
            };
            out.push(self.delivery(stream, &entry, u32::try_from(delivered).unwrap_or(1))?);
        }
        Ok(out)
    }

    async fn read_new(
        &self,
        stream: &str,
        worker: &str,
        max: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        let mut conn = self.conn.clone();
        let reply: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(worker)
            .arg("COUNT")
            .arg(max)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        let mut out = Vec::new();
        if let redis::Value::Array(streams) = &reply {
            for s in streams {
                if let redis::Value::Array(pair) = s
                    && let Some(list) = pair.get(1)
                {
                    for entry in entries(list) {
                        out.push(self.delivery(stream, &entry, 1)?);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn reserve_once(
        &self,
        kind: &str,
        worker: &str,
        max: usize,
        visibility: TimeDelta,
    ) -> Result<Vec<Delivery>, QueueError> {
        self.promote().await?;
        let mut out = Vec::new();
        for lane in ["1", "0"] {
            let stream = self.stream(kind, lane);
            self.ensure_group(&stream).await?;
            if out.len() < max {
                out.extend(
                    self.claim_stalled(&stream, worker, max - out.len(), visibility)
                        .await?,
                );
            }
            if out.len() < max {
                out.extend(self.read_new(&stream, worker, max - out.len()).await?);
            }
        }
        Ok(out)
    }

    async fn pending_count(&self, stream: &str) -> u64 {
        let mut conn = self.conn.clone();
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XPENDING")
            .arg(stream)
            .arg(GROUP)
            .query_async(&mut conn)
            .await;
        match reply {
            Ok(redis::Value::Array(parts)) => parts
                .first()
                .and_then(as_i64)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            _ => 0,
        }
    }

    async fn range(&self, key: &str, from: &str, limit: usize) -> Result<Vec<Entry>, QueueError> {
        let mut conn = self.conn.clone();
        let reply: redis::Value = redis::cmd("XRANGE")
            .arg(key)
            .arg(from)
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(entries(&reply))
    }

    fn record(job: Stored, state: JobState, at: i64, runs: u32) -> JobRecord {
        JobRecord {
            id: job.id,
            kind: job.kind,
            payload: job.payload,
            key: job.key,
            state,
            attempts: runs,
            last_error: job.last_error,
            enqueued_at: from_us(job.enqueued_at),
            at: from_us(at),
        }
    }

    /// Every kind's streams, both lanes.
    async fn streams(&self) -> Result<Vec<String>, QueueError> {
        Ok(self
            .kinds()
            .await?
            .iter()
            .flat_map(|k| [self.stream(k, "1"), self.stream(k, "0")])
            .collect())
    }
}

#[async_trait::async_trait]
impl JobQueue for RedisQueue {
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let now = us(self.clock.now());
        let mut invocation = scripts::enqueue();
        invocation
            .key(format!("{}:kinds", self.prefix))
            .arg(&self.prefix)
            .arg(now);
        let mut ids = Vec::with_capacity(jobs.len());
        for job in jobs {
            let id = uuid::Uuid::now_v7().to_string();
            let due = job.run_at.map_or(now, us);
            let stored = Stored {
                id: id.clone(),
                kind: job.kind,
                key: job.key,
                payload: job.payload,
                attempts: 0,
                enqueued_at: now,
                due_at: due,
                priority: job.priority,
                last_error: None,
                died_at: None,
            };
            invocation
                .arg(&stored.key)
                .arg(&id)
                .arg(&stored.kind)
                .arg(due)
                .arg(stored.lane())
                .arg(encode(&stored));
            ids.push(id);
        }
        let mut conn = self.conn.clone();
        let added: Vec<i64> = invocation.invoke_async(&mut conn).await.map_err(err)?;
        // On a cluster, a job is acknowledged only once a replica holds it too, so that a
        // failover of the queue's master cannot lose it (docs/jobs.md).
        if let Some(0) = self
            .conn
            .wait_for_replica(&self.prefix, REPLICA_WAIT)
            .await
            .map_err(err)?
        {
            tracing::warn!(
                "No replica of the job queue's Redis Cluster shard confirmed new jobs within {} ms: a failover now would lose them",
                REPLICA_WAIT.as_millis()
            );
        }
        Ok(ids
            .into_iter()
            .zip(added)
            .map(|(id, a)| {
                if a == 1 {
                    Enqueued::Added(id)
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
        match self.reserve_once(kind, worker, max, visibility).await {
            Ok(jobs) => Ok(jobs),
            Err(e) => {
                self.forget_groups(&e);
                Err(e)
            }
        }
    }

    async fn complete(&self, done: &[Delivery]) -> Result<(), QueueError> {
        if done.is_empty() {
            return Ok(());
        }
        let mut by_stream: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut pipe = redis::pipe();
        for job in done {
            let (stream, id) = split_receipt(job)?;
            by_stream.entry(stream).or_default().push(id);
            pipe.cmd("DEL")
                .arg(format!("{}:k:{}", self.prefix, job.key))
                .ignore();
        }
        for (stream, ids) in by_stream {
            pipe.cmd("XACK").arg(stream).arg(GROUP).arg(&ids).ignore();
            pipe.cmd("XDEL").arg(stream).arg(&ids).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(err)
    }

    async fn fail(
        &self,
        job: &Delivery,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError> {
        let (stream, entry) = split_receipt(job)?;
        let now = us(self.clock.now());
        let mut stored = Stored {
            id: job.id.clone(),
            kind: job.kind.clone(),
            key: job.key.clone(),
            payload: job.payload.clone(),
            attempts: job.attempt,
            enqueued_at: us(job.enqueued_at),
            due_at: retry_at.map_or(now, us),
            priority: if stream.ends_with(":1") { 1 } else { 0 },
            last_error: Some(error.to_owned()),
            died_at: None,
        };
        let mode = if retry_at.is_some() { "retry" } else { "dead" };
        if retry_at.is_none() {
            stored.died_at = Some(now);
        }
        let mut conn = self.conn.clone();
        let _: i64 = scripts::settle()
            .key(stream)
            .arg(&self.prefix)
            .arg(stream)
            .arg(GROUP)
            .arg(entry)
            .arg(mode)
            .arg(stored.due_at)
            .arg(encode(&stored))
            .arg(now)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn release(&self, job: &Delivery) -> Result<(), QueueError> {
        let (stream, entry) = split_receipt(job)?;
        let now = us(self.clock.now());
        let stored = Stored {
            id: job.id.clone(),
            kind: job.kind.clone(),
            key: job.key.clone(),
            payload: job.payload.clone(),
            attempts: job.attempt.saturating_sub(1),
            enqueued_at: us(job.enqueued_at),
            due_at: us(job.due_at),
            priority: if stream.ends_with(":1") { 1 } else { 0 },
            last_error: None,
            died_at: None,
        };
        let mut conn = self.conn.clone();
        let _: i64 = scripts::settle()
            .key(stream)
            .arg(&self.prefix)
            .arg(stream)
            .arg(GROUP)
            .arg(entry)
            .arg("retry")
            .arg(now)
            .arg(encode(&stored))
            .arg(now)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn list(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        match state {
            JobState::Delayed => {
                let now = us(self.clock.now());
                let reply: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(format!("{}:delayed", self.prefix))
                    .arg(format!("({now}"))
                    .arg("+inf")
                    .arg("BYSCORE")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .arg("WITHSCORES")
                    .query_async(&mut conn)
                    .await
                    .map_err(err)?;
                for (json, score) in reply {
                    let job = decode(&json)?;
                    let runs = job.attempts;
                    out.push(Self::record(job, state, score as i64, runs));
                }
            }
            JobState::Dead => {
                for entry in self.range(&self.dead(), "-", limit).await? {
                    let job = decode(&entry.json)?;
                    let at = job.died_at.unwrap_or(job.due_at);
                    let runs = job.attempts;
                    out.push(Self::record(job, state, at, runs));
                }
            }
            JobState::Active => {
                for stream in self.streams().await? {
                    let reply: redis::RedisResult<redis::Value> = redis::cmd("XPENDING")
                        .arg(&stream)
                        .arg(GROUP)
                        .arg("-")
                        .arg("+")
                        .arg(limit)
                        .query_async(&mut conn)
                        .await;
                    let Ok(redis::Value::Array(rows)) = reply else {
                        continue;
                    };
                    for row in rows {
                        let redis::Value::Array(f) = row else {
                            continue;
                        };
                        let (Some(id), Some(delivered)) =
                            (f.first().and_then(text), f.get(3).and_then(as_i64))
                        else {
                            continue;
                        };
                        let Some(entry) = self.range(&stream, &id, 1).await?.into_iter().next()
                        else {
                            continue;
                        };
                        let job = decode(&entry.json)?;
                        let runs = job.attempts + u32::try_from(delivered).unwrap_or(1);
                        let at = job.due_at;
                        out.push(Self::record(job, state, at, runs));
                    }
                }
            }
            JobState::Waiting => {
                for stream in self.streams().await? {
                    let info: redis::RedisResult<redis::Value> = redis::cmd("XINFO")
                        .arg("GROUPS")
                        .arg(&stream)
                        .query_async(&mut conn)
                        .await;
                    let last = match info {
                        Ok(v) => values::last_delivered(&v, GROUP).unwrap_or_else(|| "0-0".into()),
                        Err(_) => "0-0".to_owned(),
                    };
                    for entry in self.range(&stream, &format!("({last}"), limit).await? {
                        let job = decode(&entry.json)?;
                        let (at, runs) = (job.due_at, job.attempts);
                        out.push(Self::record(job, state, at, runs));
                    }
                }
            }
        }
        out.sort_by_key(|r| r.at);
        out.truncate(limit);
        Ok(out)
    }

    async fn retry_dead(&self, id: &str) -> Result<bool, QueueError> {
        let mut from = "-".to_owned();
        loop {
            let page = self.range(&self.dead(), &from, 500).await?;
            let Some(last) = page.last() else {
                return Ok(false);
            };
            from = format!("({}", last.id);
            for entry in &page {
                let Ok(mut job) = decode(&entry.json) else {
                    continue;
                };
                if job.id != id {
                    continue;
                }
                job.attempts = 0;
                job.died_at = None;
                job.due_at = us(self.clock.now());
                let stream = self.stream(&job.kind, job.lane());
                let mut conn = self.conn.clone();
                let moved: i64 = scripts::replay()
                    .key(self.dead())
                    .arg(self.dead())
                    .arg(&entry.id)
                    .arg(encode(&job))
                    .arg(stream)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(err)?;
                return Ok(moved == 1);
            }
        }
    }

    async fn purge_dead(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let n: i64 = scripts::purge()
            .key(self.dead())
            .arg(&self.prefix)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let mut counts = QueueCounts::default();
        for stream in self.streams().await? {
            let mut conn = self.conn.clone();
            let len: u64 = redis::cmd("XLEN")
                .arg(&stream)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            let pending = self.pending_count(&stream).await;
            counts.active += pending;
            counts.waiting += len.saturating_sub(pending);
        }
        let mut conn = self.conn.clone();
        let (delayed, dead): (u64, u64) = redis::pipe()
            .cmd("ZCARD")
            .arg(format!("{}:delayed", self.prefix))
            .cmd("XLEN")
            .arg(self.dead())
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        counts.delayed = delayed;
        counts.dead = dead;
        Ok(counts)
    }

    async fn kinds(&self) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn.clone();
        let mut kinds: Vec<String> = redis::cmd("SMEMBERS")
            .arg(format!("{}:kinds", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        kinds.sort();
        Ok(kinds)
    }
}

fn split_receipt(job: &Delivery) -> Result<(&str, &str), QueueError> {
    job.receipt.rsplit_once('|').ok_or_else(|| {
        QueueError::Backend(anyhow::anyhow!(
            "not a receipt of this queue: {}",
            job.receipt
        ))
    })
}
