//! The availability cache in Redis, under the seed's names: `interpreter:{id}:status` holding
//! `{"status":"available","languages":["es","fr"]}` with a 300 s expiry that heartbeats renew.
//!
//! The braces of the seed's `interpreter:{id}:status` mark where the id goes: the key written is
//! `interpreter:5f0c...:status`, with no hash tag. Every command here touches one key, so the
//! name is the same on a cluster, where the keys spread over the slots.

use std::time::Duration;

use crate::RedisConn;
use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::{AvailabilityCache, CachedStatus};

#[derive(Clone)]
pub struct RedisAvailability {
    redis: RedisConn,
    prefix: String,
}

impl std::fmt::Debug for RedisAvailability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAvailability")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisAvailability {
    pub fn new(redis: RedisConn, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
        }
    }

    /// The seed's key, behind the prefix.
    pub fn key(&self, interpreter: UserId) -> String {
        format!("{}interpreter:{interpreter}:status", self.prefix)
    }
}

#[async_trait]
impl AvailabilityCache for RedisAvailability {
    async fn put(
        &self,
        interpreter: UserId,
        entry: &CachedStatus,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        let mut redis = self.redis.clone();
        let _: () = redis::cmd("SET")
            .arg(self.key(interpreter))
            .arg(serde_json::to_string(entry)?)
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    async fn refresh(&self, interpreters: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        if interpreters.is_empty() {
            return Ok(());
        }
        // PEXPIRE leaves a missing key missing.
        let commands = interpreters
            .iter()
            .map(|interpreter| {
                let mut expire = redis::cmd("PEXPIRE");
                expire
                    .arg(self.key(*interpreter))
                    .arg(ttl.as_millis() as u64);
                expire
            })
            .collect();
        self.redis.each::<redis::Value>(commands).await?;
        Ok(())
    }

    async fn get(&self, interpreter: UserId) -> anyhow::Result<Option<CachedStatus>> {
        let mut redis = self.redis.clone();
        let text: Option<String> = redis::cmd("GET")
            .arg(self.key(interpreter))
            .query_async(&mut redis)
            .await?;
        // An entry some other writer left unreadable counts as none.
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use dragoman_domain::UserId;
    use dragoman_ports::{AVAILABILITY_TTL, AvailabilityCache, CachedStatus};

    use crate::testing::{Backend, connect, prefix};

    async fn cache(on: Backend) -> super::RedisAvailability {
        let (_, conn) = connect(on).await;
        super::RedisAvailability::new(conn, &prefix())
    }

    dragoman_conformance::availability_suite!((
        Arc::new(cache(Backend::Plain).await) as Arc<dyn AvailabilityCache>,
        ()
    ));

    mod tls {
        use std::sync::Arc;

        use dragoman_ports::AvailabilityCache;

        use super::{Backend, cache};
        dragoman_conformance::availability_suite!((
            Arc::new(cache(Backend::Tls).await) as Arc<dyn AvailabilityCache>,
            ()
        ));
    }

    mod cluster {
        use std::sync::Arc;

        use dragoman_ports::AvailabilityCache;

        use super::{Backend, cache};
        dragoman_conformance::availability_suite!((
            Arc::new(cache(Backend::Cluster).await) as Arc<dyn AvailabilityCache>,
            ()
        ));
    }

    /// What a seed service reading Redis sees: its own key name, JSON and expiry.
    #[tokio::test]
    async fn the_seed_reads_its_key_and_shape() {
        let cache = cache(Backend::Plain).await;
        let id = UserId(uuid::Uuid::new_v4());
        let entry = CachedStatus {
            status: "available".to_owned(),
            languages: vec!["es".to_owned(), "fr".to_owned()],
        };
        cache
            .put(id, &entry, AVAILABILITY_TTL)
            .await
            .expect("written");
        let key = cache.key(id);
        assert!(key.ends_with(&format!("interpreter:{id}:status")), "{key}");
        let mut redis = cache.redis.clone();
        let (text, ttl_ms): (String, i64) = redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut redis)
            .await
            .expect("read");
        assert_eq!(text, r#"{"status":"available","languages":["es","fr"]}"#);
        assert!(ttl_ms > 0 && ttl_ms <= 300_000, "{ttl_ms}");
        // A heartbeat renews it; an expiry of 0 makes it vanish like a dead interpreter's.
        cache
            .refresh(&[id], Duration::from_millis(1))
            .await
            .expect("renewed");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(cache.get(id).await.expect("read"), None);
    }
}
