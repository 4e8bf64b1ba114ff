//! A quick measurement (ignored by default): no-op jobs added in batches of 1,000 and drained by
//! one worker, with Redis CPU per job from INFO CPU. `cargo test --release -p
//! dragoman-queue-redis --test throughput -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dragoman_jobs::{Handler, Policy, Worker};
use dragoman_ports::{Delivery, JobQueue, NewJob, SystemClock};
use dragoman_queue_redis::RedisQueue;

#[derive(Debug)]
struct Noop;

#[async_trait::async_trait]
impl Handler for Noop {
    fn kind(&self) -> &str {
        "noop"
    }
    fn policy(&self) -> Policy {
        Policy {
            concurrency: 1000,
            ..Policy::default()
        }
    }
    async fn run(&self, _job: &Delivery) -> anyhow::Result<()> {
        Ok(())
    }
}

fn redis_cpu() -> f64 {
    let out = std::process::Command::new("redis-cli")
        .args(["INFO", "CPU"])
        .output();
    let text = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn noop_jobs() {
    let n = 100_000usize;
    let prefix = format!("bench:{}", uuid::Uuid::new_v4().simple());
    let queue = Arc::new(
        RedisQueue::connect("redis://127.0.0.1:6379", &prefix, Arc::new(SystemClock))
            .await
            .expect("redis"),
    );
    let cpu0 = redis_cpu();
    let t = Instant::now();
    for b in 0..n / 1000 {
        let jobs = (0..1000)
            .map(|i| NewJob::new("noop", format!("{b}-{i}"), serde_json::json!({})))
            .collect();
        queue.enqueue_many(jobs).await.expect("enqueue");
    }
    let add = t.elapsed();
    let cpu1 = redis_cpu();
    let t = Instant::now();
    let worker = Worker::new(queue.clone(), Arc::new(SystemClock))
        .poll_every(Duration::from_millis(5))
        .handle(Arc::new(Noop))
        .start();
    loop {
        let c = queue.counts().await.expect("counts");
        if c.waiting + c.active == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain = t.elapsed();
    worker.stop().await;
    let cpu2 = redis_cpu();
    println!(
        "added {n} in {:.3}s = {:.0}/s, Redis CPU {:.2} us/job; processed in {:.3}s = {:.0}/s, Redis CPU {:.2} us/job",
        add.as_secs_f64(),
        n as f64 / add.as_secs_f64(),
        (cpu1 - cpu0) * 1e6 / n as f64,
        drain.as_secs_f64(),
        n as f64 / drain.as_secs_f64(),
        (cpu2 - cpu1) * 1e6 / n as f64
    );
}
