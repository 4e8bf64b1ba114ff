//! The worker: one loop per job type it handles, a slot per concurrent job, acknowledgements
//! batched, failures retried with backoff or dead-lettered, and a graceful stop.
//!
//! The stop is a [`CancellationToken`]: an application runs the worker with its own token
//! ([`Worker::run`]), a program that only runs jobs keeps a [`WorkerHandle`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_ports::{Clock, Delivery, JobQueue};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{Policy, backoff};

/// Runs the jobs of one type.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + std::fmt::Debug {
    /// The job type it serves.
    fn kind(&self) -> &str;

    fn policy(&self) -> Policy;

    /// Runs one job. An error (or a panic, or running past the policy's timeout) fails this
    /// attempt; its text, with its causes, becomes the job's last error. A handler with a
    /// database effect writes it through a store method that records `job.key` in the same
    /// transaction, so that a second delivery of the job writes nothing.
    async fn run(&self, job: &Delivery) -> anyhow::Result<()>;
}

/// A worker process's job runner, not yet started.
#[derive(Debug)]
pub struct Worker {
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    name: String,
    handlers: Vec<Arc<dyn Handler>>,
    /// How long an idle type waits before asking the queue again.
    poll: Duration,
    /// Most jobs reserved in one call.
    batch: usize,
    /// How long a stop waits for jobs in flight before handing the rest back.
    grace: Duration,
    /// The policy for jobs of types nobody handles: they are retried (a newer instance may
    /// know the type) then dead-lettered.
    unknown: Policy,
}

impl Worker {
    pub fn new(queue: Arc<dyn JobQueue>, clock: Arc<dyn Clock>) -> Self {
        Self {
            queue,
            clock,
            name: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            handlers: Vec::new(),
            poll: Duration::from_millis(100),
            batch: 500,
            grace: Duration::from_secs(10),
            unknown: Policy {
                max_attempts: 3,
                backoff_base: Duration::from_secs(5),
                ..Policy::default()
            },
        }
    }

    pub fn handle(mut self, handler: Arc<dyn Handler>) -> Self {
        self.handlers.push(handler);
        self
    }

    pub fn poll_every(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn unknown_types(mut self, policy: Policy) -> Self {
        self.unknown = policy;
        self
    }

    /// Serves every type it has a handler for, and dead-letters types it has not, until `stop`
    /// is cancelled; then stops reserving, lets jobs in flight finish within the grace period,
    /// hands the others back to the queue, and returns when all of that is done.
    pub async fn run(self, stop: CancellationToken) {
        let shared = Arc::new(self);
        let mut loops = JoinSet::new();
        for handler in &shared.handlers {
            loops.spawn(serve_type(shared.clone(), handler.clone(), stop.clone()));
        }
        loops.spawn(refuse_unknown(shared.clone(), stop.clone()));
        loops.spawn(gauges(shared.queue.clone(), stop));
        while loops.join_next().await.is_some() {}
    }

    /// [`Worker::run`] in a task of its own, stopped through the handle.
    pub fn start(self) -> WorkerHandle {
        let stop = CancellationToken::new();
        let task = tokio::spawn(self.run(stop.clone()));
        WorkerHandle { stop, task }
    }
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops reserving, lets jobs in flight finish within the grace period, hands the others
    /// back to the queue, and returns when all of that is done.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the job worker failed");
        }
    }
}

/// Jobs this type's loop handed to a task and not yet answered for, by receipt.
type InFlight = Arc<Mutex<HashMap<String, Delivery>>>;

async fn serve_type(worker: Arc<Worker>, handler: Arc<dyn Handler>, stop: CancellationToken) {
    let kind = handler.kind().to_owned();
    let policy = handler.policy();
    let metrics = TypeMetrics::of(&kind);
    let visibility = TimeDelta::from_std(policy.visibility).unwrap_or(TimeDelta::seconds(60));
    let slots = Arc::new(Semaphore::new(policy.concurrency.max(1)));
    let in_flight: InFlight = Arc::default();
    // Completions go through one task that acknowledges whatever has accumulated in one call:
    // under load that is one round trip for hundreds of jobs.
    let (ack, acks) = mpsc::unbounded_channel::<Delivery>();
    let acker = tokio::spawn(acknowledge(worker.queue.clone(), acks));
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            () = stop.cancelled() => break,
        };
        let want = (1 + slots.available_permits()).min(worker.batch);
        let jobs = match worker
            .queue
            .reserve(&kind, &worker.name, want, visibility)
            .await
        {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(kind = %kind, error = %e, "Reserving jobs failed; retrying");
                drop(first);
                idle(&stop, worker.poll.max(Duration::from_millis(500))).await;
                continue;
            }
        };
        if jobs.is_empty() {
            drop(first);
            idle(&stop, worker.poll).await;
            continue;
        }
        let mut first = Some(first);
        for job in jobs {
            let permit = match first.take() {
                Some(p) => p,
                None => match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            lock(&in_flight).insert(job.receipt.clone(), job.clone());
            tasks.spawn(run_one(
                worker.clone(),
                handler.clone(),
                policy,
                metrics.clone(),
                job,
                ack.clone(),
                in_flight.clone(),
                permit,
            ));
        }
    }
    let _ = tokio::time::timeout(worker.grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(ack);
    let _ = acker.await;
    let left: Vec<Delivery> = lock(&in_flight).drain().map(|(_, d)| d).collect();
    for job in left {
        if let Err(e) = worker.queue.release(&job).await {
            tracing::warn!(jobId = %job.id, error = %e, "Handing a job back at stop failed; it will be recovered after its visibility timeout");
        }
    }
}

async fn idle(stop: &CancellationToken, poll: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(poll) => {}
        () = stop.cancelled() => {}
    }
}

fn lock(
    m: &Mutex<HashMap<String, Delivery>>,
) -> std::sync::MutexGuard<'_, HashMap<String, Delivery>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn acknowledge(queue: Arc<dyn JobQueue>, mut acks: mpsc::UnboundedReceiver<Delivery>) {
    let mut batch = Vec::with_capacity(1000);
    while acks.recv_many(&mut batch, 1000).await > 0 {
        if let Err(e) = queue.complete(&batch).await {
            // The effects are written; the jobs will run again after their visibility timeout
            // and find their keys recorded.
            tracing::warn!(jobs = batch.len(), error = %e, "Acknowledging jobs failed");
        }
        batch.clear();
    }
}

/// One job type's metrics, registered once: looking a metric up by its labels for every job
/// would cost more than a small job itself.
#[derive(Clone)]
struct TypeMetrics {
    wait: metrics::Histogram,
    processed: metrics::Counter,
    failed: metrics::Counter,
}

impl TypeMetrics {
    fn of(kind: &str) -> Self {
        Self {
            wait: metrics::histogram!("dragoman_job_wait_seconds", "kind" => kind.to_owned()),
            processed: metrics::counter!("dragoman_jobs_processed_total", "kind" => kind.to_owned()),
            failed: metrics::counter!("dragoman_jobs_failed_total", "kind" => kind.to_owned()),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_one(
    worker: Arc<Worker>,
    handler: Arc<dyn Handler>,
    policy: Policy,
    metrics: TypeMetrics,
    job: Delivery,
    ack: mpsc::UnboundedSender<Delivery>,
    in_flight: InFlight,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let waited = (worker.clock.now() - job.due_at)
        .num_microseconds()
        .unwrap_or(0);
    metrics.wait.record(waited.max(0) as f64 / 1e6);
    let outcome = if job.attempt > policy.max_attempts {
        Err(format!(
            "gave up after {} runs: the workers running it died or hung past the visibility timeout",
            job.attempt - 1
        ))
    } else {
        run_guarded(handler, &job, policy.timeout).await
    };
    match outcome {
        Ok(()) => {
            metrics.processed.increment(1);
            lock(&in_flight).remove(&job.receipt);
            let _ = ack.send(job);
        }
        Err(error) => {
            metrics.failed.increment(1);
            settle_failure(&worker, &policy, &job, &error).await;
            lock(&in_flight).remove(&job.receipt);
        }
    }
}

/// Runs the handler with its panics caught and its time bounded, so that a panic or a hang is
/// this job's failure and not the worker's (a hung handler's future is dropped at the timeout).
/// The job already runs in a task of its own; a second task per job would double the cost of a
/// small job.
async fn run_guarded(
    handler: Arc<dyn Handler>,
    job: &Delivery,
    timeout: Duration,
) -> Result<(), String> {
    use futures::FutureExt;
    let run = std::panic::AssertUnwindSafe(handler.run(job)).catch_unwind();
    match tokio::time::timeout(timeout, run).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("{e:#}")),
        Ok(Err(panic)) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic".to_owned());
            Err(format!("handler panicked: {text}"))
        }
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
    }
}

async fn settle_failure(worker: &Worker, policy: &Policy, job: &Delivery, error: &str) {
    let retry_at = (job.attempt < policy.max_attempts).then(|| {
        let delay = backoff(policy, job.attempt, rand::random::<f64>());
        worker.clock.now() + TimeDelta::from_std(delay).unwrap_or(TimeDelta::seconds(1))
    });
    match retry_at {
        Some(at) => {
            tracing::info!(jobId = %job.id, kind = %job.kind, attempt = job.attempt, retryAt = %at, error, "Job failed; retrying")
        }
        None => {
            metrics::counter!("dragoman_jobs_dead_lettered_total", "kind" => job.kind.clone())
                .increment(1);
            tracing::warn!(jobId = %job.id, kind = %job.kind, attempts = job.attempt, error, "Job dead-lettered")
        }
    }
    if let Err(e) = worker.queue.fail(job, error, retry_at).await {
        tracing::warn!(jobId = %job.id, error = %e, "Recording a job's failure failed; it will be recovered after its visibility timeout");
    }
}

/// Jobs of a type this worker has no handler for fail with a readable error, are retried under
/// the unknown-type policy (an instance of a newer version may take them meanwhile) and end in
/// the dead-letter list.
async fn refuse_unknown(worker: Arc<Worker>, stop: CancellationToken) {
    let policy = worker.unknown;
    let visibility = TimeDelta::from_std(policy.visibility).unwrap_or(TimeDelta::seconds(60));
    let every = worker.poll.max(Duration::from_millis(200)) * 5;
    loop {
        idle(&stop, every).await;
        if stop.is_cancelled() {
            return;
        }
        let kinds = match worker.queue.kinds().await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "Listing job types failed");
                continue;
            }
        };
        for kind in kinds {
            if worker.handlers.iter().any(|h| h.kind() == kind) {
                continue;
            }
            let Ok(jobs) = worker
                .queue
                .reserve(&kind, &worker.name, 100, visibility)
                .await
            else {
                continue;
            };
            for job in jobs {
                let error = format!("no handler for job type \"{kind}\" in this worker");
                metrics::counter!("dragoman_jobs_failed_total", "kind" => kind.clone())
                    .increment(1);
                settle_failure(&worker, &policy, &job, &error).await;
            }
        }
    }
}

/// Publishes the queue's depth by state every few seconds.
async fn gauges(queue: Arc<dyn JobQueue>, stop: CancellationToken) {
    loop {
        if let Ok(c) = queue.counts().await {
            metrics::gauge!("dragoman_jobs", "state" => "waiting").set(c.waiting as f64);
            metrics::gauge!("dragoman_jobs", "state" => "delayed").set(c.delayed as f64);
            metrics::gauge!("dragoman_jobs", "state" => "active").set(c.active as f64);
            metrics::gauge!("dragoman_jobs", "state" => "dead").set(c.dead as f64);
            // The names the alert rules and the CloudWatch EMF lines read (docs/operations.md).
            metrics::gauge!("dragoman_jobs_depth").set(c.waiting as f64);
            metrics::gauge!("dragoman_jobs_dead").set(c.dead as f64);
        }
        idle(&stop, Duration::from_secs(5)).await;
        if stop.is_cancelled() {
            return;
        }
    }
}
