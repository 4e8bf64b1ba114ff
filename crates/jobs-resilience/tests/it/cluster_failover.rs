//! A Redis Cluster failover under a job load: a private cluster (three masters, one replica
//! each, AOF everysec, own ports and directory, so that the shared cluster's tests are not
//! disturbed) serves the queue while jobs are enqueued and a worker writes their effects (a
//! session summary with its key's run record, in one PostgreSQL transaction). The master holding
//! the queue's slot is killed with SIGKILL; its replica takes over; the killed node is started
//! again and rejoins as a replica. Every acknowledged job's effect exists exactly once.
//! Fails, never skips, without redis-server and redis-cli on PATH.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::private_cluster::{Cluster, cli, cluster_ok, master_of, start_node};
use chrono::{TimeDelta, Utc};
use dragoman_jobs::{Handler, Policy, Worker, session_summary_job};
use dragoman_ports::{Delivery, JobEffects, JobQueue, NewJob, SessionSummary, SystemClock};
use dragoman_queue_redis::RedisQueue;
use dragoman_store_postgres::testing::TestDatabase;

const VISIBILITY: Duration = Duration::from_secs(3);

/// Writes the effect and counts, per key, the runs that wrote it and those that found it done.
#[derive(Debug)]
struct Effect {
    effects: Arc<dyn JobEffects>,
    written: Mutex<HashMap<String, usize>>,
    repeated: Mutex<usize>,
}

#[async_trait::async_trait]
impl Handler for Effect {
    fn kind(&self) -> &str {
        dragoman_jobs::SESSION_SUMMARY
    }

    fn policy(&self) -> Policy {
        Policy {
            concurrency: 16,
            max_attempts: 20,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            timeout: VISIBILITY / 2,
            visibility: VISIBILITY,
        }
    }

    async fn run(&self, job: &Delivery) -> anyhow::Result<()> {
        let summary: SessionSummary = serde_json::from_value(job.payload.clone())?;
        if self
            .effects
            .record_session_summary(&job.key, &summary)
            .await?
        {
            *self
                .written
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(job.key.clone())
                .or_default() += 1;
        } else {
            *self.repeated.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
        Ok(())
    }
}

fn job(i: usize) -> NewJob {
    let at = Utc::now();
    session_summary_job(&SessionSummary {
        session_id: uuid::Uuid::new_v4(),
        language: "fr".to_owned(),
        started_at: at,
        ended_at: at + TimeDelta::seconds(30),
        duration_ms: 30_000,
        match_time_ms: i as i64,
    })
    .expect("a job")
}

/// Enqueues until acknowledged, as a caller would: an error (during the failover) is retried
/// with the same jobs, whose keys make a repeat harmless.
async fn enqueue(queue: &RedisQueue, jobs: Vec<NewJob>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = queue.enqueue_many(jobs.clone()).await {
        assert!(Instant::now() < deadline, "enqueueing never recovered: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_under_load_loses_no_acknowledged_job() {
    let mut cluster = Cluster::start();
    let db = TestDatabase::create()
        .await
        .expect("a PostgreSQL test database");
    let store = dragoman_store_postgres::PgStore::connect(
        &db.direct_url(),
        dragoman_store_postgres::Pooler::None,
        8,
    )
    .await
    .expect("connected");
    let effects: Arc<dyn JobEffects> = Arc::new(store);
    let prefix = format!("test:{}:jobs", uuid::Uuid::new_v4().simple());
    let (_, conn) = dragoman_redis::open(&cluster.url(), true)
        .await
        .expect("the cluster");
    let queue = Arc::new(RedisQueue::new(conn, &prefix, Arc::new(SystemClock)));
    let handler = Arc::new(Effect {
        effects: effects.clone(),
        written: Mutex::default(),
        repeated: Mutex::default(),
    });
    let worker = Worker::new(queue.clone(), Arc::new(SystemClock))
        .handle(handler.clone())
        .poll_every(Duration::from_millis(20))
        .start();

    // The load: batches of ten jobs, one after the other, each acknowledged before the next.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let enqueuer = tokio::spawn({
        let (queue, stop) = (queue.clone(), stop.clone());
        async move {
            let mut keys = HashSet::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let batch: Vec<NewJob> = (i..i + 10).map(job).collect();
                keys.extend(batch.iter().map(|j| j.key.clone()));
                enqueue(&queue, batch).await;
                i += 10;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            keys
        }
    });
    let written = |handler: &Effect| {
        handler
            .written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while written(&handler) < 100 {
        assert!(Instant::now() < deadline, "the worker did not get going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // SIGKILL the master of the queue's slot (the prefix is the hash tag).
    let slot: u16 = cli(cluster.nodes[0].0, &["CLUSTER", "KEYSLOT", &prefix])
        .trim()
        .parse()
        .expect("a slot");
    let victim = master_of(cluster.nodes[0].0, slot).expect("a master for the slot");
    let index = cluster
        .nodes
        .iter()
        .position(|(port, _, _)| *port == victim)
        .expect("one of ours");
    let before_kill = written(&handler);
    cluster.nodes[index].2.kill().expect("SIGKILL");
    cluster.nodes[index].2.wait().expect("reaped");
    let observer = cluster.nodes[(index + 1) % 6].0;

    // Its replica takes the slot over.
    let deadline = Instant::now() + Duration::from_secs(30);
    let successor = loop {
        if let Some(port) = master_of(observer, slot).filter(|p| *p != victim)
            && cluster_ok(observer)
        {
            break port;
        }
        assert!(Instant::now() < deadline, "no replica took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The load goes on through the new master, then stops.
    let after = written(&handler);
    let deadline = Instant::now() + Duration::from_secs(30);
    while written(&handler) < after + 100 {
        assert!(Instant::now() < deadline, "no job ran after the failover");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = enqueuer.await.expect("the enqueuer");

    // The killed node comes back on its own files and rejoins as a replica.
    let (port, bus, _) = cluster.nodes[index];
    cluster.nodes[index].2 = start_node(port, bus, &cluster.dir.path().join(index.to_string()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cli(port, &["ROLE"]).starts_with("slave") {
        assert!(
            Instant::now() < deadline,
            "the old master did not rejoin as a replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.wait_until_ok();

    // Every acknowledged job ran, and its effect was written once.
    let deadline = Instant::now() + VISIBILITY + Duration::from_secs(30);
    loop {
        let counts = queue.counts().await;
        let done = written(&handler);
        if done >= acknowledged.len()
            && let Ok(c) = counts
            && c.waiting + c.active + c.delayed == 0
        {
            assert_eq!(c.dead, 0, "{c:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "acknowledged jobs were lost: {done} of {} effects, {counts:?}",
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop().await;
    let written = handler
        .written
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let missing = acknowledged
        .iter()
        .filter(|k| !written.contains_key(*k))
        .count();
    assert_eq!(missing, 0, "acknowledged jobs without their effect");
    assert!(written.keys().all(|k| acknowledged.contains(k)));
    assert!(written.values().all(|n| *n == 1), "an effect written twice");
    assert_eq!(
        effects.session_summary_count().await.expect("count"),
        acknowledged.len() as u64
    );
    eprintln!(
        "failover: {} jobs acknowledged, {before_kill} effects before the kill, master {victim} \
         replaced by {successor}, {} runs found their effect already written",
        acknowledged.len(),
        handler.repeated.lock().unwrap_or_else(|p| p.into_inner())
    );
    drop(db);
}
