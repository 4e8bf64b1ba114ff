//! The connection registry in process memory (one instance).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::ConnectionRegistry;

type Holders = HashMap<UserId, HashMap<String, Instant>>;

#[derive(Debug, Default)]
pub struct InProcessConnections {
    /// For each user, the instances holding them and until when. A std mutex: never held
    /// across an await.
    holders: Mutex<Holders>,
}

impl InProcessConnections {
    pub fn new() -> Self {
        Self::default()
    }

    fn holders_map(&self) -> std::sync::MutexGuard<'_, Holders> {
        self.holders.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ConnectionRegistry for InProcessConnections {
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut map = self.holders_map();
        map.retain(|_, instances| {
            instances.retain(|_, until| *until > now);
            !instances.is_empty()
        });
        for user in users {
            map.entry(*user)
                .or_default()
                .insert(instance.to_owned(), now + ttl);
        }
        Ok(())
    }

    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()> {
        let mut map = self.holders_map();
        for user in users {
            if let Some(instances) = map.get_mut(user) {
                instances.remove(instance);
                if instances.is_empty() {
                    map.remove(user);
                }
            }
        }
        Ok(())
    }

    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>> {
        let now = Instant::now();
        let mut held: Vec<String> = self
            .holders_map()
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|(_, until)| **until > now)
            .map(|(instance, _)| instance.clone())
            .collect();
        held.sort();
        Ok(held)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::ConnectionRegistry;

    dragoman_conformance::connections_suite!((
        Arc::new(super::InProcessConnections::new()) as Arc<dyn ConnectionRegistry>,
        ()
    ));
}
