//! Presence marks in Redis: one key per user with the grace period as its expiry, so the marks
//! of an instance that dies run out by themselves.

use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::PresenceRegistry;
use redis::aio::ConnectionManager;

#[derive(Clone)]
pub struct RedisPresence {
    redis: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisPresence {
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, user: &UserId) -> String {
        format!("{}dragoman:presence:{user}", self.prefix)
    }
}

#[async_trait]
impl PresenceRegistry for RedisPresence {
    async fn touch(&self, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.cmd("SET")
                .arg(self.key(user))
                .arg(1)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .ignore();
        }
        let mut redis = self.redis.clone();
        pipe.query_async::<()>(&mut redis).await?;
        Ok(())
    }

    async fn present(&self, users: &[UserId]) -> anyhow::Result<Vec<bool>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.exists(self.key(user));
        }
        let mut redis = self.redis.clone();
        Ok(pipe.query_async(&mut redis).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::PresenceRegistry;

    async fn presence() -> Arc<dyn PresenceRegistry> {
        let url = std::env::var("DRAGOMAN_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let (_, manager) = crate::connect(&url)
            .await
            .expect("the tests need Redis (DRAGOMAN_TEST_REDIS)");
        Arc::new(super::RedisPresence::new(
            manager,
            &format!("test:{}:", uuid::Uuid::new_v4().simple()),
        ))
    }

    dragoman_conformance::presence_suite!((presence().await, ()));
}
