//! Workers on both queues: bad input (an error, a panic, a hang, an undecodable payload, an
//! unknown type) is retried then dead-lettered with a readable error while good jobs keep being
//! served; summaries are written once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use dragoman_jobs::{Handler, Policy, SessionSummaryHandler, Worker, session_summary_job};
use dragoman_ports::{
    Delivery, JobEffects, JobQueue, JobState, ManualClock, NewJob, SessionSummary,
};
use dragoman_queue_redis::RedisQueue;
use dragoman_store_sqlite::SqliteStore;
use serde_json::json;

#[derive(Debug)]
struct Misbehaving;

#[async_trait::async_trait]
impl Handler for Misbehaving {
    fn kind(&self) -> &str {
        "bad"
    }
    fn policy(&self) -> Policy {
        Policy {
            concurrency: 4,
            max_attempts: 3,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_millis(200),
            visibility: Duration::from_secs(30),
        }
    }
    async fn run(&self, job: &Delivery) -> anyhow::Result<()> {
        match job.payload["do"].as_str() {
            Some("panic") => panic!("the handler broke"),
            Some("hang") => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
            _ => anyhow::bail!("refused {}", job.key),
        }
    }
}

fn summary(n: u128) -> SessionSummary {
    let at = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("instant");
    SessionSummary {
        session_id: uuid::Uuid::from_u128(n),
        language: "fr".into(),
        started_at: at,
        ended_at: at + TimeDelta::minutes(3),
        duration_ms: 180_000,
        match_time_ms: 900,
    }
}

async fn bad_input_is_dead_lettered_and_good_jobs_run(
    queue: Arc<dyn JobQueue>,
    clock: Arc<ManualClock>,
    effects: Arc<dyn JobEffects>,
) {
    for what in ["error", "panic", "hang"] {
        queue
            .enqueue(NewJob::new("bad", what, json!({ "do": what })))
            .await
            .expect("enqueue");
    }
    queue
        .enqueue(NewJob::new(
            "session-summary",
            "garbled",
            json!({ "not": "a summary" }),
        ))
        .await
        .expect("enqueue");
    queue
        .enqueue(NewJob::new("nobody-knows", "u", json!({})))
        .await
        .expect("enqueue");
    let fast = Policy {
        max_attempts: 2,
        backoff_base: Duration::from_secs(10),
        ..Policy::default()
    };
    let worker = Worker::new(queue.clone(), clock.clone())
        .poll_every(Duration::from_millis(20))
        .unknown_types(fast)
        .handle(Arc::new(Misbehaving))
        .handle(Arc::new(
            SessionSummaryHandler::new(effects.clone()).with_policy(fast),
        ))
        .start();
    let mut n = 1;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        // Good jobs keep flowing while the bad ones fail.
        let job = session_summary_job(&summary(n)).expect("job");
        queue.enqueue(job.clone()).await.expect("enqueue");
        queue.enqueue(job).await.expect("enqueue twice");
        n += 1;
        clock.advance(TimeDelta::seconds(11));
        tokio::time::sleep(Duration::from_millis(150)).await;
        if queue.counts().await.expect("counts").dead == 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs were not dead-lettered in time"
        );
    }
    // The good jobs still in flight finish: the witness is a queue with nothing waiting,
    // delayed or active.
    loop {
        let counts = queue.counts().await.expect("counts");
        if counts.waiting == 0 && counts.delayed == 0 && counts.active == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the queue never drained: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop().await;
    let dead = queue.list(JobState::Dead, 10).await.expect("dead");
    let error = |key: &str| {
        dead.iter()
            .find(|j| j.key == key)
            .and_then(|j| j.last_error.clone())
            .unwrap_or_default()
    };
    assert!(error("error").contains("refused error"), "{dead:?}");
    assert!(error("panic").contains("handler panicked: the handler broke"));
    assert!(error("hang").contains("timed out after 200 ms"));
    assert!(error("garbled").contains("payload is not a session summary"));
    assert!(error("u").contains("no handler for job type \"nobody-knows\""));
    assert_eq!(
        dead.iter().find(|j| j.key == "hang").map(|j| j.attempts),
        Some(3)
    );
    // Every summary enqueued (twice each) was written exactly once.
    let written = effects.session_summary_count().await.expect("count");
    assert!(
        written >= u64::try_from(n).unwrap_or(0) - 2,
        "{written} of {n}"
    );
    assert!(written < u64::try_from(n).unwrap_or(0));
}

fn manual() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("instant"),
    ))
}

#[tokio::test]
async fn on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(&dir.path().join("d.db"))
        .await
        .expect("open");
    let clock = manual();
    let queue = Arc::new(store.queue(clock.clone()));
    bad_input_is_dead_lettered_and_good_jobs_run(queue, clock, Arc::new(store)).await;
}

#[tokio::test]
async fn on_redis() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SqliteStore::open(&dir.path().join("d.db"))
        .await
        .expect("open");
    let clock = manual();
    let url = std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let queue = Arc::new(
        RedisQueue::connect(&url, &prefix, clock.clone())
            .await
            .expect("redis"),
    );
    bad_input_is_dead_lettered_and_good_jobs_run(queue, clock, Arc::new(store)).await;
}
