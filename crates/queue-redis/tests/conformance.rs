//! The job queue suite on Redis (127.0.0.1:6379, or REDIS_TEST_URL), each test under a prefix
//! of its own.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use dragoman_ports::{JobQueue, ManualClock};
use dragoman_queue_redis::RedisQueue;

pub fn redis_url() -> String {
    std::env::var("REDIS_TEST_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn fresh() -> (Arc<dyn JobQueue>, Arc<ManualClock>, ()) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("instant"),
    ));
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let queue = RedisQueue::connect(&redis_url(), &prefix, clock.clone())
        .await
        .expect("Redis on 127.0.0.1:6379 (scripts/services starts it)");
    (Arc::new(queue), clock, ())
}

dragoman_conformance::queue_suite!(fresh().await);
