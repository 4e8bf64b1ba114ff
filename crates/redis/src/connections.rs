//! The connection registry in Redis: per user, a sorted set `dragoman:connections:{user}` of
//! the instances holding them, each scored with the time (Redis's clock, in ms) its record runs
//! out; the set itself expires with its last record.

use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::ConnectionRegistry;
use redis::aio::ConnectionManager;

const HOLD: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, until_ms, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', key, last[2])
end
return 1
"#;

const HOLDERS: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
"#;

#[derive(Clone)]
pub struct RedisConnections {
    redis: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnections")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisConnections {
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, user: UserId) -> String {
        format!("{}dragoman:connections:{user}", self.prefix)
    }
}

#[async_trait]
impl ConnectionRegistry for RedisConnections {
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let script = redis::Script::new(HOLD);
        let mut invocation = script.prepare_invoke();
        for user in users {
            invocation.key(self.key(*user));
        }
        invocation.arg(instance).arg(ttl.as_millis().max(1) as u64);
        let mut redis = self.redis.clone();
        let _: i64 = invocation.invoke_async(&mut redis).await?;
        Ok(())
    }

    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.cmd("ZREM").arg(self.key(*user)).arg(instance).ignore();
        }
        let mut redis = self.redis.clone();
        pipe.query_async::<()>(&mut redis).await?;
        Ok(())
    }

    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>> {
        let mut redis = self.redis.clone();
        let mut held: Vec<String> = redis::Script::new(HOLDERS)
            .key(self.key(user))
            .invoke_async(&mut redis)
            .await?;
        held.sort();
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::ConnectionRegistry;

    async fn registry() -> Arc<dyn ConnectionRegistry> {
        let url = std::env::var("DRAGOMAN_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let (_, manager) = crate::connect(&url)
            .await
            .expect("the tests need Redis (DRAGOMAN_TEST_REDIS)");
        Arc::new(super::RedisConnections::new(
            manager,
            &format!("test:{}:", uuid::Uuid::new_v4().simple()),
        ))
    }

    dragoman_conformance::connections_suite!((registry().await, ()));
}
