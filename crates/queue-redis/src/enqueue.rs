//! Adding jobs: one script call per batch, each job checked against its idempotency key, then
//! on a cluster a wait for a replica to hold them.

use std::time::Duration;

use dragoman_ports::{Enqueued, NewJob, QueueError};

use crate::stored::{Stored, encode, us};
use crate::{RedisQueue, err, scripts};

/// How long an enqueue on a cluster waits for a replica to confirm it: a replica that is in
/// sync answers within a round trip; one missing (after a failover, until the old master
/// rejoins) costs each enqueue this long.
const REPLICA_WAIT: Duration = Duration::from_millis(200);

impl RedisQueue {
    /// [`JobQueue::enqueue_many`](dragoman_ports::JobQueue::enqueue_many) on Redis: one script
    /// call adds the batch, each job unless its idempotency key is live, into its stream or the
    /// delayed set.
    pub(crate) async fn add_jobs(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError> {
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
}
