//! The crash test: a worker process killed with SIGKILL while jobs are in flight (some before
//! their effect, some after it but not yet acknowledged); a second worker process recovers them
//! after the visibility timeout. Every job's effect (a `session_summaries` row, written with its
//! key's `job_runs` record in one transaction) exists exactly once, none is lost, and some jobs
//! provably ran twice. On Redis Streams with PostgreSQL (the fleet), on the PostgreSQL queue
//! without Redis (the worker through PgBouncer), and on the embedded SQLite queue (one instance
//! restarted).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use dragoman_jobs::session_summary_job;
use dragoman_ports::{JobEffects, JobQueue, SessionSummary, SystemClock};
use dragoman_store_postgres::testing::{DatabaseGuard, TestDatabase};

const JOBS: usize = 200;
const CONCURRENCY: usize = 40;
const VISIBILITY: Duration = Duration::from_secs(3);

/// Where the queue and the effects live, as the worker's arguments say.
struct Backend {
    args: Vec<String>,
    queue: Arc<dyn JobQueue>,
    effects: Arc<dyn JobEffects>,
    _keep: Box<dyn std::any::Any>,
}

async fn on_redis() -> Backend {
    let db = TestDatabase::create()
        .await
        .expect("a PostgreSQL test database");
    let url = std::env::var("DRAGOMAN_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("test:{}:jobs", uuid::Uuid::new_v4().simple());
    let queue = dragoman_queue_redis::RedisQueue::connect(&url, &prefix, Arc::new(SystemClock))
        .await
        .expect("Redis (DRAGOMAN_TEST_REDIS)");
    let store = dragoman_store_postgres::PgStore::connect(
        &db.direct_url(),
        dragoman_store_postgres::Pooler::None,
        2,
    )
    .await
    .expect("connected");
    Backend {
        args: vec![
            "--redis-url".into(),
            url,
            "--prefix".into(),
            prefix,
            "--postgres".into(),
            db.pgbouncer_url(),
        ],
        queue: Arc::new(queue),
        effects: Arc::new(store),
        _keep: Box::new(db),
    }
}

/// Queue and effects in one PostgreSQL database, no Redis: the worker goes through PgBouncer in
/// transaction pooling, the test's own checks directly.
async fn on_postgres() -> Backend {
    let db = TestDatabase::create()
        .await
        .expect("a PostgreSQL test database");
    let store = dragoman_store_postgres::PgStore::connect(
        &db.direct_url(),
        dragoman_store_postgres::Pooler::None,
        2,
    )
    .await
    .expect("connected");
    Backend {
        args: vec!["--postgres".into(), db.pgbouncer_url()],
        queue: Arc::new(store.queue(Arc::new(SystemClock))),
        effects: Arc::new(store),
        _keep: Box::new(DatabaseGuard(db)),
    }
}

async fn embedded(dir: &Path) -> Backend {
    let path = dir.join("dragoman.sqlite");
    let store = dragoman_store_sqlite::SqliteStore::open(&path)
        .await
        .expect("opened");
    Backend {
        args: vec!["--sqlite".into(), path.display().to_string()],
        queue: Arc::new(store.queue(Arc::new(SystemClock))),
        effects: Arc::new(store),
        _keep: Box::new(()),
    }
}

fn start_worker(backend: &Backend, log: &Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-worker"))
        .args(&backend.args)
        .args(["--visibility-ms", &VISIBILITY.as_millis().to_string()])
        .args(["--concurrency", &CONCURRENCY.to_string()])
        .args(["--before-ms", "300", "--after-ms", "300"])
        .arg("--log")
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the worker starts");
    let mut ready = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("read");
    assert_eq!(ready.trim(), "ready");
    child
}

/// The worker's log: runs started (key, attempt) and effects done (key).
fn read_log(path: &Path) -> (Vec<(String, u32)>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut starts = Vec::new();
    let mut done = Vec::new();
    for line in text.lines() {
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("start"), Some(key), Some(attempt)) => {
                starts.push((key.to_owned(), attempt.parse().expect("attempt")))
            }
            (Some("done"), Some(key), None) => done.push(key.to_owned()),
            _ => panic!("a torn log line: {line:?}"),
        }
    }
    (starts, done)
}

async fn killed_worker_loses_nothing_and_repeats_nothing(backend: Backend, dir: &Path) {
    let started = Utc::now();
    let jobs = (0..JOBS)
        .map(|i| {
            session_summary_job(&SessionSummary {
                session_id: uuid::Uuid::new_v4(),
                language: "es".to_owned(),
                started_at: started,
                ended_at: started + TimeDelta::seconds(60),
                duration_ms: 60_000,
                match_time_ms: i as i64,
            })
            .expect("a job")
        })
        .collect::<Vec<_>>();
    let keys: HashSet<String> = jobs.iter().map(|j| j.key.clone()).collect();
    backend.queue.enqueue_many(jobs).await.expect("enqueued");

    // The first worker runs until some effects are written (their jobs are then in the pause
    // after the effect, not yet acknowledged) and is killed without warning.
    let first_log: PathBuf = dir.join("first.log");
    let mut first = start_worker(&backend, &first_log);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (starts, done) = read_log(&first_log);
        if !done.is_empty() && starts.len() >= CONCURRENCY {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first worker did not get going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let killed_at = Instant::now();
    let (first_starts, first_done) = read_log(&first_log);
    let first_done: HashSet<String> = first_done.into_iter().collect();
    // The runs that were in flight at the kill: started, and not answered for (the queue still
    // holds them as active).
    let active = backend.queue.counts().await.expect("counts").active;
    assert!(active > 0, "no job was in flight at the kill");

    // A second worker takes over the stalled jobs once their visibility timeout has passed.
    let second_log = dir.join("second.log");
    let mut second = start_worker(&backend, &second_log);
    let deadline = killed_at + VISIBILITY + Duration::from_secs(30);
    loop {
        let counts = backend.queue.counts().await.expect("counts");
        let written = backend
            .effects
            .session_summary_count()
            .await
            .expect("count");
        if written == JOBS as u64 && counts.waiting + counts.active + counts.delayed == 0 {
            assert_eq!(counts.dead, 0, "{counts:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered in time: {written} effects, {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().expect("stopped");
    second.wait().expect("reaped");

    // Exactly once: one row per session (its primary key), as many as jobs, no more.
    assert_eq!(
        backend
            .effects
            .session_summary_count()
            .await
            .expect("count"),
        JOBS as u64
    );
    let (second_starts, second_done) = read_log(&second_log);
    let mut runs: HashMap<&str, usize> = HashMap::new();
    for (key, _) in first_starts.iter().chain(&second_starts) {
        assert!(keys.contains(key), "an unknown key ran: {key}");
        *runs.entry(key.as_str()).or_default() += 1;
    }
    assert_eq!(runs.len(), JOBS, "every job ran");
    // The jobs the kill interrupted ran again, as a later attempt...
    let rerun: Vec<&(String, u32)> = second_starts
        .iter()
        .filter(|(k, _)| first_starts.iter().any(|(f, _)| f == k))
        .collect();
    assert!(!rerun.is_empty(), "no interrupted job was recovered");
    assert!(rerun.iter().all(|(_, attempt)| *attempt >= 2), "{rerun:?}");
    // ...including jobs whose effect the first worker had already written: their second run
    // wrote nothing (the count above), yet completed.
    let effect_then_killed = rerun.iter().filter(|(k, _)| first_done.contains(k)).count();
    assert!(
        effect_then_killed > 0,
        "the kill caught no job between its effect and its acknowledgement"
    );
    assert!(second_done.iter().all(|k| keys.contains(k)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_on_redis() {
    let dir = tempfile::tempdir().expect("dir");
    let backend = on_redis().await;
    killed_worker_loses_nothing_and_repeats_nothing(backend, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_on_postgres_without_redis() {
    let dir = tempfile::tempdir().expect("dir");
    let backend = on_postgres().await;
    killed_worker_loses_nothing_and_repeats_nothing(backend, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_on_the_embedded_queue() {
    let dir = tempfile::tempdir().expect("dir");
    let backend = embedded(dir.path()).await;
    killed_worker_loses_nothing_and_repeats_nothing(backend, dir.path()).await;
}
