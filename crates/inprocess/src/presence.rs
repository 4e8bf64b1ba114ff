//! Presence marks in process memory (one instance).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::PresenceRegistry;

#[derive(Debug, Default)]
pub struct InProcessPresence {
    /// Until when each user is present. A std mutex: never held across an await.
    until: Mutex<HashMap<UserId, Instant>>,
}

impl InProcessPresence {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PresenceRegistry for InProcessPresence {
    async fn touch(&self, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.retain(|_, t| *t > now);
        for user in users {
            until.insert(*user, now + ttl);
        }
        Ok(())
    }

    async fn present(&self, users: &[UserId]) -> anyhow::Result<Vec<bool>> {
        let now = Instant::now();
        let until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        Ok(users
            .iter()
            .map(|u| until.get(u).is_some_and(|t| *t > now))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::PresenceRegistry;

    dragoman_conformance::presence_suite!((
        Arc::new(super::InProcessPresence::new()) as Arc<dyn PresenceRegistry>,
        ()
    ));
}
