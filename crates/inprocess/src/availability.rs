//! The availability cache in process memory (one instance).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::{AvailabilityCache, CachedStatus, Clock, SystemClock};
use tokio::time::Instant;

#[derive(Debug)]
pub struct InProcessAvailability {
    /// Each entry and until when it lives. A std mutex: never held across an await.
    entries: Mutex<HashMap<UserId, (CachedStatus, Instant)>>,
    /// What the entries' TTLs are measured on.
    clock: Arc<dyn Clock>,
}

impl InProcessAvailability {
    /// Entries timed on the system's clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Entries timed on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, (CachedStatus, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl AvailabilityCache for InProcessAvailability {
    async fn put(
        &self,
        interpreter: UserId,
        entry: &CachedStatus,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        let now = self.clock.instant();
        let mut entries = self.entries();
        entries.retain(|_, (_, until)| *until > now);
        entries.insert(interpreter, (entry.clone(), now + ttl));
        Ok(())
    }

    async fn refresh(&self, interpreters: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = self.clock.instant();
        let mut entries = self.entries();
        for interpreter in interpreters {
            if let Some((_, until)) = entries.get_mut(interpreter)
                && *until > now
            {
                *until = now + ttl;
            }
        }
        Ok(())
    }

    async fn get(&self, interpreter: UserId) -> anyhow::Result<Option<CachedStatus>> {
        let now = self.clock.instant();
        Ok(self
            .entries()
            .get(&interpreter)
            .filter(|(_, until)| *until > now)
            .map(|(entry, _)| entry.clone()))
    }
}

impl Default for InProcessAvailability {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_conformance::Time;
    use dragoman_ports::AvailabilityCache;

    dragoman_conformance::availability_suite!(manual {
        let (clock, time) = Time::manual();
        (
            Arc::new(super::InProcessAvailability::with_clock(clock)) as Arc<dyn AvailabilityCache>,
            time,
            (),
        )
    });
}
