//! Jobs administration: what operators see of the durable job queue (jobs by state), replay of
//! a dead job, and the number of dead jobs in the overview.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dragoman_ports::{JobQueue, JobRecord, JobState, QueueError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::EngineError;

/// A job as GET /v1/admin/jobs lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// The job type.
    #[schema(example = "session-summary")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The idempotency key.
    pub key: String,
    /// `waiting`, `delayed`, `active` or `dead`.
    pub state: &'static str,
    /// Runs so far.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub enqueued_at: DateTime<Utc>,
    /// When it is next due (delayed), or when it died (dead).
    pub at: DateTime<Utc>,
}

impl From<JobRecord> for JobView {
    fn from(r: JobRecord) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            payload: r.payload,
            key: r.key,
            state: r.state.as_str(),
            attempts: r.attempts,
            last_error: r.last_error,
            enqueued_at: r.enqueued_at,
            at: r.at,
        }
    }
}

/// A queue that cannot be reached is a backend outage, like the store's.
fn unavailable(e: QueueError) -> EngineError {
    match e {
        QueueError::Backend(e) => EngineError::Store(StoreError::Backend(e)),
    }
}

/// The job administration use-cases.
#[derive(Debug, Clone)]
pub struct JobsAdmin {
    /// The durable job queue; `None` where this configuration has none (then there are no jobs).
    queue: Option<Arc<dyn JobQueue>>,
}

impl JobsAdmin {
    pub fn new(queue: Option<Arc<dyn JobQueue>>) -> Self {
        Self { queue }
    }

    /// Jobs in `state`, oldest first, at most `limit`. Without a queue there are none.
    pub async fn jobs(&self, state: JobState, limit: usize) -> Result<Vec<JobView>, EngineError> {
        let Some(queue) = &self.queue else {
            return Ok(Vec::new());
        };
        Ok(queue
            .list(state, limit)
            .await
            .map_err(unavailable)?
            .into_iter()
            .map(JobView::from)
            .collect())
    }

    /// Moves a dead job back to waiting, its attempts reset; `NotFound` unless a dead job has
    /// this id.
    pub async fn retry_dead_job(&self, id: &str) -> Result<(), EngineError> {
        let Some(queue) = &self.queue else {
            return Err(EngineError::NotFound);
        };
        if queue.retry_dead(id).await.map_err(unavailable)? {
            tracing::info!(jobId = %id, "Dead job handed back to the queue");
            Ok(())
        } else {
            Err(EngineError::NotFound)
        }
    }

    /// How many jobs are dead-lettered; `None` without a queue or when it cannot be reached
    /// (the overview still answers).
    pub async fn dead_jobs(&self) -> Option<u64> {
        let queue = self.queue.as_ref()?;
        match queue.counts().await {
            Ok(counts) => Some(counts.dead),
            Err(e) => {
                tracing::warn!(error = %e, "could not count dead jobs");
                None
            }
        }
    }
}
