//! The connection registry in process memory (one instance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::ConnectionRegistry;

/// For each user, the instances holding them and until when. A user is almost always held by
/// one instance, so each list is allocated for one, and the instance's name is shared by every
/// user it holds rather than copied for each.
#[derive(Debug, Default)]
struct Holders {
    users: HashMap<UserId, Vec<(Arc<str>, Instant)>>,
    /// The names of the instances in `users`.
    names: Vec<Arc<str>>,
}

impl Holders {
    fn name(&mut self, instance: &str) -> Arc<str> {
        if let Some(name) = self.names.iter().find(|n| &***n == instance) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(instance);
        self.names.push(name.clone());
        name
    }

    /// Drops what expired, and the names no user refers to any more.
    fn forget_expired(&mut self, now: Instant) {
        self.users.retain(|_, instances| {
            instances.retain(|(_, until)| *until > now);
            !instances.is_empty()
        });
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }
}

#[derive(Debug, Default)]
pub struct InProcessConnections {
    /// A std mutex: never held across an await.
    holders: Mutex<Holders>,
}

impl InProcessConnections {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Holders> {
        self.holders.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ConnectionRegistry for InProcessConnections {
    async fn hold(&self, instance: &str, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut holders = self.lock();
        holders.forget_expired(now);
        let name = holders.name(instance);
        for user in users {
            let instances = holders
                .users
                .entry(*user)
                .or_insert_with(|| Vec::with_capacity(1));
            match instances.iter_mut().find(|(n, _)| *n == name) {
                Some((_, until)) => *until = now + ttl,
                None => instances.push((name.clone(), now + ttl)),
            }
        }
        Ok(())
    }

    async fn release(&self, instance: &str, users: &[UserId]) -> anyhow::Result<()> {
        let mut holders = self.lock();
        for user in users {
            if let Some(instances) = holders.users.get_mut(user) {
                instances.retain(|(n, _)| &**n != instance);
                if instances.is_empty() {
                    holders.users.remove(user);
                }
            }
        }
        Ok(())
    }

    async fn holders(&self, user: UserId) -> anyhow::Result<Vec<String>> {
        let now = Instant::now();
        let mut held: Vec<String> = self
            .lock()
            .users
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|(_, until)| *until > now)
            .map(|(instance, _)| instance.to_string())
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
