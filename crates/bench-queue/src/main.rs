//! `queue-bench add N` / `queue-bench drain N`: the Dragoman side of the job queue benchmark
//! (benches/jobs.sh, beside benches/bullmq/bench.mjs). `add` enqueues N no-op jobs in batches of
//! CHUNK (one round trip each); `drain` runs one worker (the production `Worker`, concurrency
//! CONCURRENCY) until it has run and acknowledged N jobs. Each prints one JSON line with its
//! phase's wall time; the runner reads Redis's CPU time around each phase.
//!
//! Environment: REDIS_URL (default redis://127.0.0.1:6379/2), QUEUE_PREFIX (default bench-dragoman),
//! CHUNK (1000), CONCURRENCY (100). With DATABASE_URL the queue is PostgreSQL's `jobs` table
//! instead (the queue of one instance without Redis; docs/jobs.md has the figures):
//! DATABASE_POOLER=transaction behind PgBouncer 1.18, DATABASE_MIGRATION_URL (default
//! DATABASE_URL) a direct URL the schema is brought up to date through first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dragoman_jobs::{Handler, Policy, Worker};
use dragoman_ports::{Delivery, JobQueue, NewJob, SystemClock};
use dragoman_queue_redis::RedisQueue;
use dragoman_store_postgres::{PgStore, Pooler};
use tokio::sync::Notify;

const KIND: &str = "noop";

#[derive(Debug)]
struct Noop {
    ran: AtomicUsize,
    target: usize,
    all_done: Notify,
    concurrency: usize,
}

#[async_trait::async_trait]
impl Handler for Noop {
    fn kind(&self) -> &str {
        KIND
    }

    fn policy(&self) -> Policy {
        Policy {
            concurrency: self.concurrency,
            ..Policy::default()
        }
    }

    async fn run(&self, _job: &Delivery) -> anyhow::Result<()> {
        if self.ran.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.all_done.notify_one();
        }
        Ok(())
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn number(name: &str, default: usize) -> anyhow::Result<usize> {
    env_or(name, &default.to_string())
        .parse()
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, n) = match args.as_slice() {
        [mode, n] => (mode.as_str(), n.parse::<usize>()?),
        _ => anyhow::bail!("usage: queue-bench add|drain N"),
    };
    let queue: Arc<dyn JobQueue> = match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let pooler = match env_or("DATABASE_POOLER", "none").as_str() {
                "none" => Pooler::None,
                "transaction" => Pooler::Transaction,
                other => anyhow::bail!("DATABASE_POOLER: {other:?} is not none or transaction"),
            };
            PgStore::migrate(&env_or("DATABASE_MIGRATION_URL", &url)).await?;
            let store = PgStore::connect(&url, pooler, 10).await?;
            Arc::new(store.queue(Arc::new(SystemClock)))
        }
        Err(_) => {
            let url = env_or("REDIS_URL", "redis://127.0.0.1:6379/2");
            let prefix = env_or("QUEUE_PREFIX", "bench-dragoman");
            Arc::new(RedisQueue::connect(&url, &prefix, Arc::new(SystemClock)).await?)
        }
    };
    let started = Instant::now();
    match mode {
        "add" => {
            let chunk = number("CHUNK", 1000)?.max(1);
            let mut i = 0;
            while i < n {
                let end = (i + chunk).min(n);
                let jobs = (i..end)
                    .map(|j| NewJob::new(KIND, format!("noop:{j}"), serde_json::json!({ "i": j })))
                    .collect();
                queue.enqueue_many(jobs).await?;
                i = end;
            }
        }
        "drain" => {
            let handler = Arc::new(Noop {
                ran: AtomicUsize::new(0),
                target: n,
                all_done: Notify::new(),
                concurrency: number("CONCURRENCY", 100)?.max(1),
            });
            let worker = Worker::new(queue.clone(), Arc::new(SystemClock))
                .handle(handler.clone())
                .poll_every(Duration::from_millis(5))
                .start();
            if n > 0 {
                handler.all_done.notified().await;
            }
            // Stopping waits for the last acknowledgements: they are part of the work.
            worker.stop().await;
            let left = queue.counts().await?;
            anyhow::ensure!(
                left.waiting + left.active + left.delayed + left.dead == 0,
                "jobs left after the drain: {left:?}"
            );
        }
        other => anyhow::bail!("unknown mode {other:?}: add or drain"),
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "impl": "dragoman",
            "phase": mode,
            "jobs": n,
            "secs": secs,
            "rate": n as f64 / secs,
        })
    );
    Ok(())
}
