//! The connection registry in Redis: per user, a sorted set `dragoman:connections:{user}` of
//! the instances holding them, each scored with the time (Redis's clock, in ms) its record runs
//! out; the set itself expires with its last record. On a cluster the users' keys spread over
//! the slots: a batch is one script call or command per user.

use std::time::Duration;

use crate::RedisConn;
use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::ConnectionRegistry;

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
    redis: RedisConn,
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
    pub fn new(redis: RedisConn, prefix: &str) -> Self {
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
        let ttl_ms = ttl.as_millis().max(1) as u64;
        if self.redis.is_cluster() {
            // A script's keys must share a slot: one call per user, all sent at once.
            futures::future::try_join_all(users.iter().map(|user| {
                let mut redis = self.redis.clone();
                let mut invocation = script.prepare_invoke();
                invocation.key(self.key(*user)).arg(instance).arg(ttl_ms);
                async move { invocation.invoke_async::<i64>(&mut redis).await }
            }))
            .await?;
            return Ok(());
        }
        let mut invocation = script.prepare_invoke();
        for user in users {
            invocation.key(self.key(*user));
        }
        invocation.arg(instance).arg(ttl_ms);
        let mut redis = self.redis.clone();
        let _: i64 = invocation.invoke_async(&mut redis).await?;
        Ok(())
    }

    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let commands = users
            .iter()
            .map(|user| {
                let mut remove = redis::cmd("ZREM");
                remove.arg(self.key(*user)).arg(instance);
                remove
            })
            .collect();
        self.redis.each::<redis::Value>(commands).await?;
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

    use crate::testing::{Backend, connect, prefix};

    async fn registry(on: Backend) -> Arc<dyn ConnectionRegistry> {
        let (_, conn) = connect(on).await;
        Arc::new(super::RedisConnections::new(conn, &prefix()))
    }

    dragoman_conformance::connections_suite!((registry(Backend::Plain).await, ()));

    mod tls {
        use super::{Backend, registry};
        dragoman_conformance::connections_suite!((registry(Backend::Tls).await, ()));
    }

    mod cluster {
        use super::{Backend, registry};
        dragoman_conformance::connections_suite!((registry(Backend::Cluster).await, ()));
    }
}
