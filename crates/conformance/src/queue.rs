//! The job queue suite: delayed ordering, duplicates, priority, retries and backoff on a fake
//! clock, dead-lettering, replay, purge, stalled-job recovery, release, and concurrent
//! reservations that never share a job.
//!
//! Each case is `pub async fn case(queue, clock)`: the queue reads time from the manual clock,
//! except for stalled-job recovery, whose visibility timeout both backends measure in real time
//! (Redis's XAUTOCLAIM idle time), so that case advances the clock and also waits.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_ports::{Enqueued, JobQueue, JobState, ManualClock, NewJob};
use serde_json::json;

const VIS: TimeDelta = TimeDelta::seconds(60);

fn job(kind: &str, key: &str) -> NewJob {
    NewJob::new(kind, key, json!({ "key": key }))
}

fn added(e: Enqueued) -> String {
    match e {
        Enqueued::Added(id) => id,
        Enqueued::Duplicate => panic!("expected a new job"),
    }
}

async fn keys(queue: &dyn JobQueue, kind: &str, max: usize) -> Vec<String> {
    queue
        .reserve(kind, "w1", max, VIS)
        .await
        .expect("reserve")
        .into_iter()
        .map(|d| d.key)
        .collect()
}

pub async fn delayed_jobs_run_in_run_at_order(queue: Arc<dyn JobQueue>, clock: Arc<ManualClock>) {
    let now = dragoman_ports::Clock::now(&*clock);
    for (key, secs) in [("c", 30), ("a", 10), ("b", 20)] {
        queue
            .enqueue(job("t", key).at(now + TimeDelta::seconds(secs)))
            .await
            .expect("enqueue");
    }
    queue.enqueue(job("t", "now")).await.expect("enqueue");
    assert_eq!(keys(&*queue, "t", 10).await, ["now"]);
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.delayed, counts.active), (3, 1));
    let delayed = queue.list(JobState::Delayed, 10).await.expect("list");
    let order: Vec<_> = delayed.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(order, ["a", "b", "c"]);
    clock.advance(TimeDelta::seconds(15));
    assert_eq!(keys(&*queue, "t", 10).await, ["a"]);
    clock.advance(TimeDelta::seconds(20));
    assert_eq!(keys(&*queue, "t", 10).await, ["b", "c"]);
    assert!(keys(&*queue, "t", 10).await.is_empty());
}

pub async fn duplicate_keys_add_one_job(queue: Arc<dyn JobQueue>, _clock: Arc<ManualClock>) {
    let out = queue
        .enqueue_many(vec![job("t", "k"), job("t", "k"), job("t", "other")])
        .await
        .expect("enqueue");
    assert!(matches!(out[0], Enqueued::Added(_)));
    assert_eq!(out[1], Enqueued::Duplicate);
    assert!(matches!(out[2], Enqueued::Added(_)));
    let got = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    assert_eq!(got.len(), 2);
    assert_eq!(
        queue.enqueue(job("t", "k")).await.expect("again"),
        Enqueued::Duplicate
    );
    queue.complete(&got).await.expect("complete");
    // Completed: the key is free again (the effect's own record stops a second effect).
    assert!(matches!(
        queue.enqueue(job("t", "k")).await.expect("after"),
        Enqueued::Added(_)
    ));
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.waiting, counts.active), (1, 0));
}

pub async fn higher_priority_runs_first(queue: Arc<dyn JobQueue>, _clock: Arc<ManualClock>) {
    queue.enqueue(job("t", "low")).await.expect("enqueue");
    queue
        .enqueue(job("t", "high").priority(5))
        .await
        .expect("enqueue");
    assert_eq!(keys(&*queue, "t", 1).await, ["high"]);
    assert_eq!(keys(&*queue, "t", 1).await, ["low"]);
}

pub async fn types_are_served_separately(queue: Arc<dyn JobQueue>, _clock: Arc<ManualClock>) {
    queue.enqueue(job("a", "1")).await.expect("enqueue");
    queue.enqueue(job("b", "2")).await.expect("enqueue");
    assert_eq!(keys(&*queue, "b", 10).await, ["2"]);
    assert_eq!(keys(&*queue, "a", 10).await, ["1"]);
    let mut kinds = queue.kinds().await.expect("kinds");
    kinds.sort();
    assert_eq!(kinds, ["a", "b"]);
}

pub async fn a_failed_job_retries_after_its_backoff(
    queue: Arc<dyn JobQueue>,
    clock: Arc<ManualClock>,
) {
    queue.enqueue(job("t", "k")).await.expect("enqueue");
    let first = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    assert_eq!(first[0].attempt, 1);
    let now = dragoman_ports::Clock::now(&*clock);
    queue
        .fail(&first[0], "boom", Some(now + TimeDelta::seconds(10)))
        .await
        .expect("fail");
    assert!(keys(&*queue, "t", 10).await.is_empty());
    let delayed = queue.list(JobState::Delayed, 10).await.expect("list");
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].last_error.as_deref(), Some("boom"));
    assert_eq!(delayed[0].at, now + TimeDelta::seconds(10));
    clock.advance(TimeDelta::seconds(9));
    assert!(keys(&*queue, "t", 10).await.is_empty());
    clock.advance(TimeDelta::seconds(1));
    let second = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempt, 2);
    assert_eq!(second[0].payload, first[0].payload);
}

pub async fn a_dead_job_keeps_payload_attempts_and_error(
    queue: Arc<dyn JobQueue>,
    clock: Arc<ManualClock>,
) {
    let id = added(queue.enqueue(job("t", "k")).await.expect("enqueue"));
    let got = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    queue
        .fail(&got[0], "first", Some(dragoman_ports::Clock::now(&*clock)))
        .await
        .expect("fail");
    let got = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    assert_eq!(got[0].attempt, 2);
    clock.advance(TimeDelta::seconds(3));
    queue.fail(&got[0], "for good", None).await.expect("dead");
    assert!(keys(&*queue, "t", 10).await.is_empty());
    let dead = queue.list(JobState::Dead, 10).await.expect("list");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].last_error.as_deref(), Some("for good"));
    assert_eq!(dead[0].payload, json!({ "key": "k" }));
    assert_eq!(dead[0].at, dragoman_ports::Clock::now(&*clock));
    assert!(dead[0].enqueued_at < dead[0].at);
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.dead, counts.waiting, counts.active), (1, 0, 0));
    // A dead job's key stays taken: enqueueing it again adds nothing until it is purged.
    assert_eq!(
        queue.enqueue(job("t", "k")).await.expect("again"),
        Enqueued::Duplicate
    );
}

pub async fn a_dead_job_can_be_replayed(queue: Arc<dyn JobQueue>, _clock: Arc<ManualClock>) {
    let id = added(queue.enqueue(job("t", "k")).await.expect("enqueue"));
    let got = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    queue.fail(&got[0], "broken", None).await.expect("dead");
    assert!(!queue.retry_dead("no-such-job").await.expect("unknown"));
    assert!(queue.retry_dead(&id).await.expect("replay"));
    assert!(!queue.retry_dead(&id).await.expect("twice"));
    assert!(
        queue
            .list(JobState::Dead, 10)
            .await
            .expect("list")
            .is_empty()
    );
    let again = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempt, 1);
    queue.complete(&again).await.expect("complete");
    assert_eq!(queue.counts().await.expect("counts"), Default::default());
}

pub async fn purge_empties_the_dead_letter_list(
    queue: Arc<dyn JobQueue>,
    _clock: Arc<ManualClock>,
) {
    queue
        .enqueue_many(vec![job("t", "a"), job("t", "b"), job("t", "live")])
        .await
        .expect("enqueue");
    for d in queue.reserve("t", "w1", 2, VIS).await.expect("reserve") {
        queue.fail(&d, "dead", None).await.expect("dead");
    }
    assert_eq!(queue.counts().await.expect("counts").dead, 2);
    assert_eq!(queue.purge_dead().await.expect("purge"), 2);
    assert_eq!(queue.purge_dead().await.expect("purge again"), 0);
    assert!(
        queue
            .list(JobState::Dead, 10)
            .await
            .expect("list")
            .is_empty()
    );
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.dead, counts.waiting), (0, 1));
    assert!(matches!(
        queue.enqueue(job("t", "a")).await.expect("freed"),
        Enqueued::Added(_)
    ));
}

pub async fn a_stalled_job_is_handed_out_again(queue: Arc<dyn JobQueue>, clock: Arc<ManualClock>) {
    let id = added(queue.enqueue(job("t", "k")).await.expect("enqueue"));
    let short = TimeDelta::milliseconds(300);
    let first = queue.reserve("t", "w1", 10, short).await.expect("reserve");
    assert_eq!(first.len(), 1);
    assert!(
        queue
            .reserve("t", "w2", 10, short)
            .await
            .expect("hidden")
            .is_empty()
    );
    assert_eq!(
        queue
            .list(JobState::Active, 10)
            .await
            .expect("active")
            .len(),
        1
    );
    clock.advance(TimeDelta::seconds(1));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let again = queue.reserve("t", "w2", 10, short).await.expect("reserve");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempt, 2);
    // The first worker's late answer does not undo the second's hold.
    queue.complete(&again).await.expect("complete");
    assert_eq!(queue.counts().await.expect("counts").active, 0);
}

pub async fn a_released_job_returns_without_counting(
    queue: Arc<dyn JobQueue>,
    _clock: Arc<ManualClock>,
) {
    queue.enqueue(job("t", "k")).await.expect("enqueue");
    let got = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    queue.release(&got[0]).await.expect("release");
    let again = queue.reserve("t", "w1", 10, VIS).await.expect("reserve");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 1);
}

/// Workers reserving at the same time never share a job, and between them take every one.
pub async fn concurrent_reservations_never_share_a_job(
    queue: Arc<dyn JobQueue>,
    _clock: Arc<ManualClock>,
) {
    const JOBS: usize = 300;
    let jobs = (0..JOBS).map(|i| job("t", &format!("k{i}"))).collect();
    queue.enqueue_many(jobs).await.expect("enqueue");
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..6 {
        let queue = queue.clone();
        workers.spawn(async move {
            let mut taken = Vec::new();
            loop {
                let batch = queue
                    .reserve("t", &format!("w{w}"), 7, VIS)
                    .await
                    .expect("reserve");
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch.into_iter().map(|d| d.id));
            }
        });
    }
    let mut taken = Vec::new();
    while let Some(ids) = workers.join_next().await {
        taken.extend(ids.expect("a worker"));
    }
    let distinct: std::collections::HashSet<_> = taken.iter().collect();
    assert_eq!(distinct.len(), taken.len(), "a job was handed out twice");
    assert_eq!(taken.len(), JOBS);
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.waiting, counts.active), (0, JOBS as u64));
}

/// Expands the queue suite into tests. `$factory` is an expression evaluated inside each async
/// test, yielding `(Arc<dyn JobQueue>, Arc<ManualClock>, guard)`.
#[macro_export]
macro_rules! queue_suite {
    ($factory:expr) => {
        $crate::queue_suite!(@cases $factory;
            delayed_jobs_run_in_run_at_order,
            duplicate_keys_add_one_job,
            higher_priority_runs_first,
            types_are_served_separately,
            a_failed_job_retries_after_its_backoff,
            a_dead_job_keeps_payload_attempts_and_error,
            a_dead_job_can_be_replayed,
            purge_empties_the_dead_letter_list,
            a_stalled_job_is_handed_out_again,
            a_released_job_returns_without_counting,
            concurrent_reservations_never_share_a_job,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (queue, clock, _guard) = $factory;
                $crate::queue::$case(queue, clock).await;
            }
        )*
    };
}
