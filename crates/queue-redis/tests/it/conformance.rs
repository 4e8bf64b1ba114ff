//! The job queue suite on Redis, each test under a prefix of its own: on the plain Redis of
//! scripts/services (127.0.0.1:6379, or REDIS_TEST_URL) and on the Redis with TLS and a password
//! of scripts/redis-tls (REDIS_TEST_TLS_URL, trusted through SSL_CERT_FILE) and on the Redis
//! Cluster of scripts/redis-cluster (REDIS_TEST_CLUSTER_URL).

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use dragoman_ports::{JobQueue, ManualClock};
use dragoman_queue_redis::RedisQueue;

pub fn redis_url() -> String {
    std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn from_env(variable: &str, script: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the tests with scripts/test, which starts {script}")
    })
}

async fn fresh(url: String) -> (Arc<dyn JobQueue>, Arc<ManualClock>, ()) {
    fresh_on(url, false).await
}

/// A queue under a prefix of its own on the Redis (`cluster`: the Redis Cluster) at `url`.
async fn fresh_on(url: String, cluster: bool) -> (Arc<dyn JobQueue>, Arc<ManualClock>, ()) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("instant"),
    ));
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let (_, conn) = dragoman_redis::open(&url, cluster)
        .await
        .unwrap_or_else(|e| panic!("the tests need Redis at {url}: {e:#}"));
    let queue = RedisQueue::new(conn, &prefix, clock.clone());
    (Arc::new(queue), clock, ())
}

dragoman_conformance::queue_suite!(fresh(redis_url()).await);

mod tls {
    use super::{fresh, from_env};
    dragoman_conformance::queue_suite!(
        fresh(from_env("REDIS_TEST_TLS_URL", "scripts/redis-tls")).await
    );
}

mod cluster {
    use super::{fresh_on, from_env};
    dragoman_conformance::queue_suite!(
        fresh_on(
            from_env("REDIS_TEST_CLUSTER_URL", "scripts/redis-cluster"),
            true
        )
        .await
    );
}
