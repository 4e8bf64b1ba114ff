//! Presence marks in process memory (one instance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::{Clock, PresenceRegistry, SystemClock};
use tokio::time::Instant;

#[derive(Debug)]
pub struct InProcessPresence {
    /// Until when each user is present. A std mutex: never held across an await.
    until: Mutex<HashMap<UserId, Instant>>,
    /// What the marks' TTLs are measured on.
    clock: Arc<dyn Clock>,
}

impl InProcessPresence {
    /// Marks timed on the system's clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Marks timed on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            until: Mutex::new(HashMap::new()),
            clock,
        }
    }
}

impl Default for InProcessPresence {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl PresenceRegistry for InProcessPresence {
    async fn touch(&self, users: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = self.clock.instant();
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.retain(|_, t| *t > now);
        for user in users {
            until.insert(*user, now + ttl);
        }
        Ok(())
    }

    async fn present(&self, users: &[UserId]) -> anyhow::Result<Vec<bool>> {
        let now = self.clock.instant();
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

    use dragoman_conformance::Time;
    use dragoman_ports::PresenceRegistry;

    dragoman_conformance::presence_suite!(manual {
        let (clock, time) = Time::manual();
        (
            Arc::new(super::InProcessPresence::with_clock(clock)) as Arc<dyn PresenceRegistry>,
            time,
            (),
        )
    });
}
