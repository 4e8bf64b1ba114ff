//! Reading jobs for workers: the consumer groups, the promotion of due delayed jobs, stalled
//! jobs taken back with XAUTOCLAIM once idle for the visibility timeout, then new entries, the
//! priority lane first.

use std::time::Duration;

use chrono::TimeDelta;
use dragoman_ports::{Delivery, QueueError};

use crate::stored::{decode, from_us, us};
use crate::values::{Entry, as_i64, entries};
use crate::{GROUP, RedisQueue, err, scripts};

impl RedisQueue {
    /// [`JobQueue::reserve`](dragoman_ports::JobQueue::reserve) on Redis: promotes due delayed
    /// jobs, then takes stalled jobs and new ones, the priority lane first. After an error that
    /// says a consumer group is gone (a Redis that lost its data), the groups are made again at
    /// the next call.
    pub(crate) async fn reserve_jobs(
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
            let now = self.clock.instant();
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
}
