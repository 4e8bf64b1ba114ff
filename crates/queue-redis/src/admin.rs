//! Administration of the queue: listing jobs by state, replaying and purging dead letters, the
//! counts behind the queue gauges, and the job types seen.

use dragoman_ports::{JobRecord, JobState, QueueCounts, QueueError};

use crate::stored::{Stored, decode, encode, from_us, us};
use crate::values::{self, Entry, as_i64, entries, text};
use crate::{GROUP, RedisQueue, err, scripts};

impl RedisQueue {
    /// [`JobQueue::list`](dragoman_ports::JobQueue::list) on Redis.
    pub(crate) async fn list_jobs(
        &self,
        state: JobState,
        limit: usize,
    ) -> Result<Vec<JobRecord>, QueueError> {
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

    /// [`JobQueue::retry_dead`](dragoman_ports::JobQueue::retry_dead) on Redis: the dead job
    /// goes back to its stream with no runs counted, in one script call.
    pub(crate) async fn replay_dead(&self, id: &str) -> Result<bool, QueueError> {
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

    /// [`JobQueue::purge_dead`](dragoman_ports::JobQueue::purge_dead) on Redis.
    pub(crate) async fn purge_dead_letters(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let n: i64 = scripts::purge()
            .key(self.dead())
            .arg(&self.prefix)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// [`JobQueue::counts`](dragoman_ports::JobQueue::counts) on Redis.
    pub(crate) async fn count_jobs(&self) -> Result<QueueCounts, QueueError> {
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

    /// [`JobQueue::kinds`](dragoman_ports::JobQueue::kinds) on Redis: every job type enqueued.
    pub(crate) async fn known_kinds(&self) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn.clone();
        let mut kinds: Vec<String> = redis::cmd("SMEMBERS")
            .arg(format!("{}:kinds", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        kinds.sort();
        Ok(kinds)
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
            .known_kinds()
            .await?
            .iter()
            .flat_map(|k| [self.stream(k, "1"), self.stream(k, "0")])
            .collect())
    }
}
