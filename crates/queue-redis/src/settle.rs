//! Settling a delivered job: completion, a failure (retry or dead letter) and a release, each
//! found by its receipt (`{stream}|{entry id}`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use dragoman_ports::{Delivery, QueueError};

use crate::stored::{Stored, encode, us};
use crate::{GROUP, RedisQueue, err, scripts};

impl RedisQueue {
    /// [`JobQueue::complete`](dragoman_ports::JobQueue::complete) on Redis: acknowledges and
    /// deletes the entries, and frees their idempotency keys, in one pipeline.
    pub(crate) async fn complete_jobs(&self, done: &[Delivery]) -> Result<(), QueueError> {
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

    /// [`JobQueue::fail`](dragoman_ports::JobQueue::fail) on Redis: the job goes back with its
    /// error, to the delayed set until `retry_at` (to its stream if that is not later than now),
    /// or to the dead-letter stream (`None`).
    pub(crate) async fn fail_job(
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

    /// [`JobQueue::release`](dragoman_ports::JobQueue::release) on Redis: the job goes back to
    /// the end of its stream, due now, its run not counted.
    pub(crate) async fn release_job(&self, job: &Delivery) -> Result<(), QueueError> {
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
}

fn split_receipt(job: &Delivery) -> Result<(&str, &str), QueueError> {
    job.receipt.rsplit_once('|').ok_or_else(|| {
        QueueError::Backend(anyhow::anyhow!(
            "not a receipt of this queue: {}",
            job.receipt
        ))
    })
}
