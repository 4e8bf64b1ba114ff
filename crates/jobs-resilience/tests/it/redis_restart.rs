//! A Redis restart under running workers: a private redis-server with AOF (own port, own
//! directory) is shut down and started again on the same directory while jobs are waiting and in
//! flight. The workers and the enqueuing side reconnect by themselves, and every job enqueued
//! before and after the restart runs. Fails, never skips, without redis-server on PATH.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dragoman_jobs::{Handler, Policy, Worker};
use dragoman_ports::{Delivery, JobQueue, NewJob, SystemClock};
use dragoman_queue_redis::RedisQueue;

const KIND: &str = "restart-test";
const VISIBILITY: Duration = Duration::from_secs(2);

/// Records every key it ran; each run takes a moment, so that some are in flight at the restart.
#[derive(Debug, Default)]
struct Recording {
    ran: Mutex<HashSet<String>>,
    runs: Mutex<usize>,
}

#[async_trait::async_trait]
impl Handler for Recording {
    fn kind(&self) -> &str {
        KIND
    }

    fn policy(&self) -> Policy {
        Policy {
            concurrency: 8,
            max_attempts: 10,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            timeout: VISIBILITY / 2,
            visibility: VISIBILITY,
        }
    }

    async fn run(&self, job: &Delivery) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        *self.runs.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.ran
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.key.clone());
        Ok(())
    }
}

impl Recording {
    fn done(&self) -> usize {
        self.ran.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One command in Redis's inline protocol; the first line of the answer.
fn command(port: u16, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(format!("{line}\r\n").as_bytes())?;
    let mut answer = [0u8; 256];
    let n = stream.read(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer[..n]).trim_end().to_owned())
}

/// Starts redis-server with AOF on `dir` and waits until it has loaded its data.
fn start_redis(port: u16, dir: &Path) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--appendonly", "yes", "--appendfsync", "everysec"])
        .args(["--save", "", "--maxmemory-policy", "noeviction"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server must be on PATH for this test (apt-get install redis-server)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while command(port, "PING").map(|a| a != "+PONG").unwrap_or(true) {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Enqueues, retrying while the connection comes back: what a caller of the queue sees is an
/// error for the commands sent while Redis was down, never a lost acknowledged job.
async fn enqueue_all(queue: &RedisQueue, from: usize, to: usize) {
    let jobs: Vec<NewJob> = (from..to)
        .map(|i| NewJob::new(KIND, format!("job-{i}"), serde_json::json!({ "i": i })))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match queue.enqueue_many(jobs.clone()).await {
            Ok(_) => return,
            Err(e) => {
                assert!(Instant::now() < deadline, "enqueueing never recovered: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_carry_on_by_themselves_after_a_redis_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut redis = start_redis(port, dir.path());
    let url = format!("redis://127.0.0.1:{port}");
    let queue = Arc::new(
        RedisQueue::connect(&url, "restart:jobs", Arc::new(SystemClock))
            .await
            .expect("connected"),
    );
    let handler = Arc::new(Recording::default());
    let worker = Worker::new(queue.clone(), Arc::new(SystemClock))
        .handle(handler.clone())
        .poll_every(Duration::from_millis(20))
        .start();

    const BEFORE: usize = 1000;
    const AFTER: usize = 200;
    enqueue_all(&queue, 0, BEFORE).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while handler.done() < 50 {
        assert!(Instant::now() < deadline, "the worker did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let counts = queue.counts().await.expect("counts");
    assert!(
        counts.waiting > 0 && counts.active > 0,
        "the restart must find jobs waiting and in flight: {counts:?}"
    );

    // A clean stop (SHUTDOWN writes and syncs the append-only file), then the same directory.
    let _ = command(port, "SHUTDOWN");
    let stopped = redis.wait().expect("redis-server stopped");
    assert!(stopped.success(), "{stopped:?}");
    assert!(command(port, "PING").is_err(), "Redis is down");
    let mut redis = start_redis(port, dir.path());

    enqueue_all(&queue, BEFORE, BEFORE + AFTER).await;
    // Jobs in flight at the restart whose acknowledgement failed are handed out again after the
    // visibility timeout; everything is done well within it plus the time to run the rest.
    let deadline = Instant::now() + VISIBILITY + Duration::from_secs(30);
    loop {
        let counts = queue.counts().await;
        if handler.done() == BEFORE + AFTER
            && let Ok(c) = counts
            && c.waiting + c.active + c.delayed == 0
        {
            assert_eq!(c.dead, 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every job ran after the restart: {} of {}, {counts:?}",
            handler.done(),
            BEFORE + AFTER
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.stop().await;
    let ran = handler
        .ran
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    assert!((0..BEFORE + AFTER).all(|i| ran.contains(&format!("job-{i}"))));
    let _ = command(port, "SHUTDOWN NOSAVE");
    let _ = redis.wait();
}
