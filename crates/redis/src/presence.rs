//! Presence marks in Redis: one key per user with the grace period as its expiry, so the marks
//! of an instance that dies run out by themselves. On a cluster the keys spread over the slots:
//! a batch is one command per key, not one pipeline.

use std::time::Duration;

use crate::RedisConn;
use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::PresenceRegistry;

#[derive(Clone)]
pub struct RedisPresence {
    redis: RedisConn,
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
    pub fn new(redis: RedisConn, prefix: &str) -> Self {
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
        let commands = users
            .iter()
            .map(|user| {
                let mut set = redis::cmd("SET");
                set.arg(self.key(user))
                    .arg(1)
                    .arg("PX")
                    .arg(ttl.as_millis() as u64);
                set
            })
            .collect();
        self.redis.each::<redis::Value>(commands).await?;
        Ok(())
    }

    async fn present(&self, users: &[UserId]) -> anyhow::Result<Vec<bool>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let commands = users
            .iter()
            .map(|user| {
                let mut exists = redis::cmd("EXISTS");
                exists.arg(self.key(user));
                exists
            })
            .collect();
        Ok(self.redis.each(commands).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::PresenceRegistry;

    use crate::testing::{Backend, connect, prefix};

    async fn presence(on: Backend) -> Arc<dyn PresenceRegistry> {
        let (_, conn) = connect(on).await;
        Arc::new(super::RedisPresence::new(conn, &prefix()))
    }

    dragoman_conformance::presence_suite!((presence(Backend::Plain).await, ()));

    mod tls {
        use super::{Backend, presence};
        dragoman_conformance::presence_suite!((presence(Backend::Tls).await, ()));
    }

    mod cluster {
        use super::{Backend, presence};
        dragoman_conformance::presence_suite!((presence(Backend::Cluster).await, ()));
    }
}
