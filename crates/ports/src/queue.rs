//! The job queue port: durable jobs with delays, retries, stalled-job recovery and a dead-letter
//! list.
//!
//! Delivery is at least once. A job can run twice (its worker died after the effect but before
//! acknowledging it, or its visibility timeout ran out while it was still running), so a job's
//! effect must be written together with the record that its idempotency key ran, in one store
//! transaction (see [`JobEffects`] and docs/jobs.md): a second run then changes nothing.
//!
//! The queue stores and moves jobs; it does not decide policy. The worker (crate `dragoman-jobs`)
//! decides how long a job may stay invisible, when a failure is retried and when it is dead.

use chrono::{DateTime, TimeDelta, Utc};

/// A job to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The job type: which handler runs it and which policy applies.
    pub kind: String,
    pub payload: serde_json::Value,
    /// Two enqueues with one key while the first job is not yet completed add one job.
    pub key: String,
    /// Not before this instant (`None`: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Higher runs first among jobs of one type that are due. Redis keeps two lanes: above zero
    /// and the rest.
    pub priority: i32,
}

impl NewJob {
    pub fn new(
        kind: impl Into<String>,
        key: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            kind: kind.into(),
            payload,
            key: key.into(),
            run_at: None,
            priority: 0,
        }
    }

    pub fn at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = Some(run_at);
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Added(String),
    /// A job with this key is waiting, delayed, running or dead: nothing added.
    Duplicate,
}

/// A job handed to a worker. The worker must `complete`, `fail` or `release` it before
/// `invisible_until`, or another worker will be handed it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The job's id, stable across retries.
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub key: String,
    /// 1 for the first run; a run whose worker died counts.
    pub attempt: u32,
    pub enqueued_at: DateTime<Utc>,
    /// When it became due (its run-at, or its enqueue): the start of its time in queue.
    pub due_at: DateTime<Utc>,
    /// The queue's own handle for acknowledging this delivery (a stream entry, a row version).
    pub receipt: String,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Due, waiting for a worker.
    Waiting,
    /// Not due yet: a run-at in the future or a retry's backoff.
    Delayed,
    /// Handed to a worker.
    Active,
    /// Out of attempts, or failed for good: kept for operators.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Delayed => "delayed",
            Self::Active => "active",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(Self::Waiting),
            "delayed" => Some(Self::Delayed),
            "active" => Some(Self::Active),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// A job as operators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub key: String,
    pub state: JobState,
    /// Runs so far.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub enqueued_at: DateTime<Utc>,
    /// When it is next due (delayed), or when it died (dead).
    pub at: DateTime<Utc>,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub waiting: u64,
    pub delayed: u64,
    pub active: u64,
    pub dead: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The backend could not be reached or refused the command.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// A durable job queue.
#[async_trait::async_trait]
pub trait JobQueue: Send + Sync + std::fmt::Debug {
    /// Adds jobs, in order; one answer per job. One round trip per batch where the backend can.
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>, QueueError>;

    async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        let mut out = self.enqueue_many(vec![job]).await?;
        Ok(out.pop().unwrap_or(Enqueued::Duplicate))
    }

    /// Hands up to `max` due jobs of `kind` to `worker`, highest priority then earliest first,
    /// including jobs whose previous worker held them longer than `visibility` (a stalled job:
    /// its worker died). Each stays invisible to others for `visibility`.
    async fn reserve(
        &self,
        kind: &str,
        worker: &str,
        max: usize,
        visibility: TimeDelta,
    ) -> Result<Vec<Delivery>, QueueError>;

    /// The job ran: it leaves the queue and its key may be enqueued again.
    async fn complete(&self, done: &[Delivery]) -> Result<(), QueueError>;

    /// The run failed: `Some(at)` retries it then, `None` moves it to the dead-letter list.
    async fn fail(
        &self,
        job: &Delivery,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), QueueError>;

    /// Hands a job back unrun (graceful stop): due at once, this attempt not counted.
    async fn release(&self, job: &Delivery) -> Result<(), QueueError>;

    /// Jobs in `state`, oldest first, at most `limit`.
    async fn list(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError>;

    /// Moves a dead job back to waiting with its attempts reset. `false`: no dead job has this id.
    async fn retry_dead(&self, id: &str) -> Result<bool, QueueError>;

    /// Deletes every dead job; how many.
    async fn purge_dead(&self) -> Result<u64, QueueError>;

    async fn counts(&self) -> Result<QueueCounts, QueueError>;

    /// Every job type ever enqueued and not purged: workers find types they have no handler for
    /// here, and dead-letter those jobs rather than leave them waiting forever.
    async fn kinds(&self) -> Result<Vec<String>, QueueError>;
}

/// A post-session summary: what the session-summary job writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionSummary {
    pub session_id: uuid::Uuid,
    pub language: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub match_time_ms: i64,
}

/// Job effects the store writes together with the record that the job's key ran.
///
/// Each method is one store transaction: insert the key into `job_runs` (its primary key), and
/// only if it was not there, write the effect. `Ok(false)`: the key had already run; nothing was
/// written. This is what turns at-least-once delivery into exactly-once effects.
#[async_trait::async_trait]
pub trait JobEffects: Send + Sync + std::fmt::Debug {
    async fn record_session_summary(
        &self,
        run_key: &str,
        summary: &SessionSummary,
    ) -> Result<bool, crate::StoreError>;

    /// How many session summaries exist (tests and the crash test count effects with it).
    async fn session_summary_count(&self) -> Result<u64, crate::StoreError>;

    /// The summaries owed: sessions that ended before `ended_before` and have no summary yet,
    /// oldest first, at most `limit`. Ending a session writes its outbox row in the same
    /// transaction; writing its summary deletes it. A relay enqueues these again, so a crash
    /// between a session's end and the enqueue of its summary delays the summary, never loses it.
    async fn owed_session_summaries(
        &self,
        ended_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SessionSummary>, crate::StoreError>;
}
