//! Login failure counts in Redis: one counter per key with the window as its expiry, so the
//! limit holds across every instance behind the load balancer. Reservations are Lua scripts on
//! one key each, so they are atomic on a single server and on a cluster alike.

use std::time::Duration;

use crate::RedisConn;
use async_trait::async_trait;
use dragoman_ports::AttemptLimiter;

/// Counts one attempt unless the key is at the limit: 0 when counted, else the milliseconds left
/// in the window. One script, so that no other instance's reservation comes between the read
/// and the increment. A counter found without an expiry (never written so by us) gets the
/// window, so that it cannot block for ever.
const RESERVE: &str = r#"
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  if ttl < 1 then ttl = tonumber(ARGV[2]) end
  return ttl
end
if redis.call('INCR', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Takes back one counted attempt; a counter that expired in the meantime is not re-created.
const RELEASE: &str = r#"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"#;

#[derive(Clone)]
pub struct RedisLimiter {
    redis: RedisConn,
    prefix: String,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    pub fn new(redis: RedisConn, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}dragoman:attempts:{key}", self.prefix)
    }
}

#[async_trait]
impl AttemptLimiter for RedisLimiter {
    async fn blocked_for(&self, key: &str, limit: u32) -> anyhow::Result<Option<Duration>> {
        let mut redis = self.redis.clone();
        let (count, ttl_ms): (Option<u32>, i64) = redis::pipe()
            .get(self.key(key))
            .pttl(self.key(key))
            .query_async(&mut redis)
            .await?;
        Ok(match count {
            Some(n) if n >= limit && ttl_ms > 0 => Some(Duration::from_millis(ttl_ms as u64)),
            _ => None,
        })
    }

    async fn record_failure(&self, key: &str, window: Duration) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        // The window opens at the first failure: the expiry is set only on a new counter.
        let _: (u32, i64) = redis::pipe()
            .atomic()
            .incr(self.key(key), 1)
            .cmd("PEXPIRE")
            .arg(self.key(key))
            .arg(window.as_millis() as u64)
            .arg("NX")
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    async fn reset(&self, key: &str) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> anyhow::Result<Option<Duration>> {
        let mut redis = self.redis.clone();
        let wait_ms: i64 = redis::Script::new(RESERVE)
            .key(self.key(key))
            .arg(limit)
            .arg(window.as_millis().max(1) as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms as u64)))
    }

    async fn release(&self, key: &str) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let _: i64 = redis::Script::new(RELEASE)
            .key(self.key(key))
            .invoke_async(&mut redis)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::AttemptLimiter;

    use crate::testing::{Backend, connect, prefix};

    async fn limiter(on: Backend) -> Arc<dyn AttemptLimiter> {
        let (_, conn) = connect(on).await;
        Arc::new(super::RedisLimiter::new(conn, &prefix()))
    }

    dragoman_conformance::limiter_suite!((limiter(Backend::Plain).await, ()));

    mod tls {
        use super::{Backend, limiter};
        dragoman_conformance::limiter_suite!((limiter(Backend::Tls).await, ()));
    }

    mod cluster {
        use super::{Backend, limiter};
        dragoman_conformance::limiter_suite!((limiter(Backend::Cluster).await, ()));
    }
}
