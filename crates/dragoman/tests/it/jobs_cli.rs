//! `dragoman jobs list|retry|purge` on the embedded queue (the SQLite file under DATA_DIR), on
//! Redis (REDIS_URL), and on PostgreSQL without Redis (DATABASE_URL through PgBouncer): the binary
//! itself, against jobs dead-lettered by the test the way a worker does it.

use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use dragoman::Settings;
use dragoman::config::{Database, RedisSettings};
use dragoman::startup::{StoreBackend, job_queue};
use dragoman_ports::{JobQueue, NewJob, SystemClock};
use dragoman_store_postgres::Pooler;
use dragoman_store_postgres::testing::{DatabaseGuard, TestDatabase};
use serde_json::{Value, json};

const SECRET: &str = "a secret for the job queue CLI tests, 32 bytes+";

/// Where the queue lives.
#[derive(Debug, Clone, Copy)]
enum Queue {
    Embedded,
    Redis,
    Postgres,
}

struct Setup {
    dir: tempfile::TempDir,
    /// REDIS_URL and REDIS_PREFIX, when the queue is Redis.
    redis: Option<(String, String)>,
    /// The database, when the queue is PostgreSQL's.
    postgres: Option<DatabaseGuard>,
}

impl Setup {
    async fn new(queue: Queue) -> Self {
        let redis = matches!(queue, Queue::Redis).then(|| {
            (
                std::env::var("DRAGOMAN_TEST_REDIS")
                    .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
                format!("test:{}", uuid::Uuid::new_v4().simple()),
            )
        });
        let postgres = match queue {
            Queue::Postgres => Some(DatabaseGuard(
                TestDatabase::create()
                    .await
                    .expect("a PostgreSQL test database"),
            )),
            _ => None,
        };
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            redis,
            postgres,
        }
    }

    fn settings(&self) -> Settings {
        let mut settings = Settings::embedded(self.dir.path(), 0);
        settings.redis = self.redis.clone().map(|(url, prefix)| RedisSettings {
            url,
            prefix,
            cluster: false,
        });
        if let Some(db) = &self.postgres {
            settings.database = Database::Postgres {
                url: db.0.pgbouncer_url(),
                migration_url: db.0.direct_url(),
                pooler: Pooler::Transaction,
                max_connections: 2,
            };
            settings.migrate = true;
        }
        settings
    }

    /// Runs `dragoman jobs ARGS` with this configuration and nothing else from the environment.
    fn jobs(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dragoman"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", self.dir.path())
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "warn")
            .arg("jobs")
            .args(args);
        if let Some((url, prefix)) = &self.redis {
            command
                .env("REDIS_URL", url)
                .env("REDIS_PREFIX", prefix)
                .env("JWT_SECRET", SECRET);
        }
        if let Some(db) = &self.postgres {
            command
                .env("DATABASE_URL", db.0.pgbouncer_url())
                .env("DATABASE_POOLER", "transaction")
                .env("DATABASE_MIGRATION_URL", db.0.direct_url())
                .env("JWT_SECRET", SECRET);
        }
        command.output().expect("the binary runs")
    }

    /// Runs the queue in this process for `work`, then closes the store (the binary opens it
    /// next).
    async fn with_queue<T>(&self, work: impl AsyncFnOnce(Arc<dyn JobQueue>) -> T) -> T {
        let settings = self.settings();
        let store = StoreBackend::open(&settings)
            .await
            .expect("the store opens");
        let queue = job_queue(&settings, &store, Arc::new(SystemClock))
            .await
            .expect("the queue connects");
        let out = work(queue).await;
        store.close().await;
        out
    }
}

/// No worker runs here, so a reserved job is the test's to fail.
async fn dead_job(queue: &Arc<dyn JobQueue>, key: &str) -> String {
    queue
        .enqueue(NewJob::new("test-cli", key, json!({"key": key})))
        .await
        .expect("enqueued");
    let held = queue
        .reserve("test-cli", "test-operator", 100, TimeDelta::hours(1))
        .await
        .expect("reserved");
    let job = held.into_iter().find(|d| d.key == key).expect("reserved");
    queue
        .fail(&job, "boom: failed for good", None)
        .await
        .expect("dead-lettered");
    job.id
}

fn lines(output: &Output) -> Vec<Value> {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

async fn jobs_commands(queue: Queue) {
    let setup = Setup::new(queue).await;
    let (first, second) = setup
        .with_queue(async |queue| {
            let first = dead_job(&queue, "cli-1").await;
            let second = dead_job(&queue, "cli-2").await;
            queue
                .enqueue(
                    NewJob::new("test-cli", "cli-later", json!({}))
                        .at(Utc::now() + TimeDelta::hours(1)),
                )
                .await
                .expect("enqueued");
            (first, second)
        })
        .await;

    let dead = lines(&setup.jobs(&["list"]));
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0]["id"], first.as_str());
    assert_eq!(dead[0]["state"], "dead");
    assert_eq!(dead[0]["last_error"], "boom: failed for good");
    assert_eq!(dead[0]["attempts"], 1);
    assert_eq!(dead[1]["id"], second.as_str());
    assert_eq!(
        lines(&setup.jobs(&["list", "--state", "dead", "--limit", "1"])).len(),
        1
    );
    let delayed = lines(&setup.jobs(&["list", "--state", "delayed"]));
    assert_eq!(delayed.len(), 1, "{delayed:?}");
    assert_eq!(delayed[0]["key"], "cli-later");
    assert!(lines(&setup.jobs(&["list", "--state", "active"])).is_empty());

    // Replay one: it leaves the dead-letter list and waits again; a second replay fails.
    let retried = lines(&setup.jobs(&["retry", &first]));
    assert_eq!(retried, vec![json!({"retried": first})]);
    let dead = lines(&setup.jobs(&["list"]));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["id"], second.as_str());
    let again = setup.jobs(&["retry", &first]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("no dead job"));
    let waiting = setup
        .with_queue(async |queue| queue.counts().await.expect("counts"))
        .await;
    assert_eq!((waiting.waiting, waiting.dead, waiting.delayed), (1, 1, 1));

    // Purge: the dead job goes, the others stay.
    assert_eq!(lines(&setup.jobs(&["purge"])), vec![json!({"purged": 1})]);
    assert!(lines(&setup.jobs(&["list"])).is_empty());
    assert_eq!(lines(&setup.jobs(&["purge"])), vec![json!({"purged": 0})]);
    let left = setup
        .with_queue(async |queue| queue.counts().await.expect("counts"))
        .await;
    assert_eq!((left.waiting, left.dead, left.delayed), (1, 0, 1));

    // Bad input: clap's refusals, status 2.
    for args in [
        &["list", "--state", "bogus"][..],
        &["list", "--limit", "0"],
        &["list", "--limit", "many"],
        &["retry"],
        &["frobnicate"],
    ] {
        assert_eq!(setup.jobs(args).status.code(), Some(2), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_commands_on_the_embedded_queue() {
    jobs_commands(Queue::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_commands_on_redis() {
    jobs_commands(Queue::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_commands_on_postgres_without_redis() {
    jobs_commands(Queue::Postgres).await;
}
