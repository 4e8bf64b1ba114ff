//! `crash-worker`: a job worker process for the crash test (tests/it/crash.rs), running the real
//! session-summary handler (its effect and its key's run record in one store transaction) slowed
//! down on both sides of the effect, so that a SIGKILL finds jobs before their effect and jobs
//! after it but not yet acknowledged.
//!
//! Each run appends `start KEY ATTEMPT` before the effect and `done KEY` after it to `--log`.
//! It prints `ready` once the worker runs, and stops gracefully at SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use dragoman_jobs::{Handler, Policy, SessionSummaryHandler, Worker};
use dragoman_ports::{Delivery, JobEffects, JobQueue, SystemClock};

#[derive(Debug, Parser)]
struct Args {
    /// The embedded queue and store: this SQLite file.
    #[arg(long, conflicts_with_all = ["redis_url", "postgres"])]
    sqlite: Option<PathBuf>,
    /// The Redis queue (with --prefix), with the PostgreSQL store of --postgres.
    #[arg(long, requires = "postgres")]
    redis_url: Option<String>,
    #[arg(long, default_value = "")]
    prefix: String,
    /// The PostgreSQL store (through PgBouncer in transaction pooling); without --redis-url the
    /// queue is its `jobs` table too.
    #[arg(long)]
    postgres: Option<String>,
    #[arg(long)]
    visibility_ms: u64,
    #[arg(long)]
    concurrency: usize,
    /// Pause before the effect.
    #[arg(long)]
    before_ms: u64,
    /// Pause after the effect, before the job is acknowledged.
    #[arg(long)]
    after_ms: u64,
    #[arg(long)]
    log: PathBuf,
}

#[derive(Debug)]
struct Slow {
    inner: SessionSummaryHandler,
    policy: Policy,
    before: Duration,
    after: Duration,
    log: Mutex<std::fs::File>,
}

impl Slow {
    fn note(&self, line: String) -> anyhow::Result<()> {
        let mut file = self.log.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(line.as_bytes())?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Handler for Slow {
    fn kind(&self) -> &str {
        self.inner.kind()
    }

    fn policy(&self) -> Policy {
        self.policy
    }

    async fn run(&self, job: &Delivery) -> anyhow::Result<()> {
        self.note(format!("start {} {}\n", job.key, job.attempt))?;
        tokio::time::sleep(self.before).await;
        self.inner.run(job).await?;
        self.note(format!("done {}\n", job.key))?;
        tokio::time::sleep(self.after).await;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let clock = Arc::new(SystemClock);
    let (queue, effects): (Arc<dyn JobQueue>, Arc<dyn JobEffects>) =
        match (&args.sqlite, &args.redis_url, &args.postgres) {
            (Some(path), _, _) => {
                let store = dragoman_store_sqlite::SqliteStore::open(path).await?;
                (Arc::new(store.queue(clock.clone())), Arc::new(store))
            }
            (None, Some(url), Some(pg)) => (
                Arc::new(
                    dragoman_queue_redis::RedisQueue::connect(url, &args.prefix, clock.clone())
                        .await?,
                ),
                Arc::new(
                    dragoman_store_postgres::PgStore::connect(
                        pg,
                        dragoman_store_postgres::Pooler::Transaction,
                        8,
                    )
                    .await?,
                ),
            ),
            (None, None, Some(pg)) => {
                let store = dragoman_store_postgres::PgStore::connect(
                    pg,
                    dragoman_store_postgres::Pooler::Transaction,
                    8,
                )
                .await?;
                (Arc::new(store.queue(clock.clone())), Arc::new(store))
            }
            _ => anyhow::bail!("give --sqlite, --postgres, or --redis-url with --postgres"),
        };
    let visibility = Duration::from_millis(args.visibility_ms);
    let handler = Slow {
        inner: SessionSummaryHandler::new(effects),
        policy: Policy {
            concurrency: args.concurrency,
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            timeout: visibility / 2,
            visibility,
        },
        before: Duration::from_millis(args.before_ms),
        after: Duration::from_millis(args.after_ms),
        log: Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&args.log)?,
        ),
    };
    let worker = Worker::new(queue, clock)
        .handle(Arc::new(handler))
        .poll_every(Duration::from_millis(50))
        .start();
    println!("ready");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    terminate.recv().await;
    worker.stop().await;
    Ok(())
}
