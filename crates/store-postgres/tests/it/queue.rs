//! The job queue suite on PostgreSQL, directly and through PgBouncer in transaction pooling, each
//! test on a database of its own; then what only this queue promises: a stalled worker's late
//! answer leaves alone the job another worker now holds, and instances on one database (one
//! direct, one through PgBouncer) never take the same job.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use dragoman_ports::{JobQueue, JobState, ManualClock, NewJob};
use dragoman_store_postgres::testing::{DatabaseGuard, TestDatabase};
use dragoman_store_postgres::{PgStore, Pooler};
use serde_json::json;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("instant"),
    ))
}

async fn connect(db: &TestDatabase, direct: bool) -> PgStore {
    let store = if direct {
        PgStore::connect(&db.direct_url(), Pooler::None, 4).await
    } else {
        PgStore::connect(&db.pgbouncer_url(), Pooler::Transaction, 4).await
    };
    store.expect("connected (PostgreSQL and PgBouncer: scripts/services starts them)")
}

/// A queue on a database of the test's own, dropped when the guard goes.
async fn fresh(direct: bool) -> (Arc<dyn JobQueue>, Arc<ManualClock>, DatabaseGuard) {
    let db = TestDatabase::create().await.expect("a test database");
    let clock = clock();
    let queue = connect(&db, direct).await.queue(clock.clone());
    (Arc::new(queue), clock, DatabaseGuard(db))
}

mod direct {
    dragoman_conformance::queue_suite!(super::fresh(true).await);
}

mod through_pgbouncer {
    dragoman_conformance::queue_suite!(super::fresh(false).await);
}

#[tokio::test]
async fn a_stalled_workers_late_answer_does_not_touch_the_new_hold() {
    let (queue, clock, _db) = fresh(false).await;
    queue
        .enqueue(NewJob::new("t", "k", json!({})))
        .await
        .expect("enqueue");
    let short = TimeDelta::seconds(5);
    let stalled = queue.reserve("t", "w1", 1, short).await.expect("reserve");
    clock.advance(TimeDelta::seconds(6));
    let held = queue.reserve("t", "w2", 1, short).await.expect("reserve");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].id, stalled[0].id);
    assert_ne!(held[0].receipt, stalled[0].receipt);

    // The first worker comes back: its completion, failure and release all miss.
    queue.complete(&stalled).await.expect("late complete");
    queue
        .fail(&stalled[0], "late", None)
        .await
        .expect("late fail");
    queue.release(&stalled[0]).await.expect("late release");
    let active = queue.list(JobState::Active, 10).await.expect("active");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].attempts, 2);
    assert_eq!(queue.counts().await.expect("counts").dead, 0);

    queue.complete(&held).await.expect("complete");
    assert_eq!(queue.counts().await.expect("counts"), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_database_never_take_the_same_job() {
    const JOBS: usize = 2_000;
    let db = DatabaseGuard(TestDatabase::create().await.expect("a test database"));
    let clock = clock();
    let direct = connect(&db.0, true).await.queue(clock.clone());
    let pooled = connect(&db.0, false).await.queue(clock.clone());
    let jobs = (0..JOBS)
        .map(|i| NewJob::new("t", format!("k{i}"), json!({ "n": i })))
        .collect();
    direct.enqueue_many(jobs).await.expect("enqueued");
    let mut workers = tokio::task::JoinSet::new();
    for (n, queue) in [direct.clone(), pooled.clone(), direct, pooled]
        .into_iter()
        .enumerate()
    {
        workers.spawn(async move {
            let mut taken = Vec::new();
            loop {
                let batch = queue
                    .reserve("t", &format!("w{n}"), 50, TimeDelta::minutes(1))
                    .await
                    .expect("reserve");
                if batch.is_empty() {
                    return taken;
                }
                queue.complete(&batch).await.expect("complete");
                taken.extend(batch.into_iter().map(|d| d.id));
            }
        });
    }
    let mut taken = Vec::new();
    let mut busy = 0;
    while let Some(ids) = workers.join_next().await {
        let ids = ids.expect("a worker");
        busy += usize::from(!ids.is_empty());
        taken.extend(ids);
    }
    assert_eq!(taken.iter().collect::<HashSet<_>>().len(), taken.len());
    assert_eq!(taken.len(), JOBS);
    assert!(busy >= 2, "only one worker ever got a job");
}
