//! What the tests of these ports connect to: the plain Redis of scripts/services, the Redis with
//! TLS and a password of scripts/redis-tls, and the cluster of scripts/redis-cluster. Each
//! suite runs on all three; a missing server fails the test naming the script that starts it.

use crate::RedisConn;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Plain,
    Tls,
    Cluster,
}

/// The URL of `backend`, from the variables scripts/test exports.
pub fn url(backend: Backend) -> String {
    let from = |variable: &str, script: &str| {
        std::env::var(variable).unwrap_or_else(|_| {
            panic!("{variable} is not set: run the tests with scripts/test, which starts {script}")
        })
    };
    match backend {
        Backend::Plain => std::env::var("DRAGOMAN_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
        Backend::Tls => from("REDIS_TEST_TLS_URL", "scripts/redis-tls"),
        Backend::Cluster => from("REDIS_TEST_CLUSTER_URL", "scripts/redis-cluster"),
    }
}

/// A connection to `backend` (and its client, for pub/sub).
pub async fn connect(backend: Backend) -> (redis::Client, RedisConn) {
    let url = url(backend);
    crate::open(&url, matches!(backend, Backend::Cluster))
        .await
        .unwrap_or_else(|e| panic!("the tests need Redis at {url} ({backend:?}): {e:#}"))
}

/// A key prefix no other test uses.
pub fn prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}
