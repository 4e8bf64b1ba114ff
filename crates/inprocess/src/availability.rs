//! The availability cache in process memory (one instance).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::{AvailabilityCache, CachedStatus};

#[derive(Debug, Default)]
pub struct InProcessAvailability {
    /// Each entry and until when it lives. A std mutex: never held across an await.
    entries: Mutex<HashMap<UserId, (CachedStatus, Instant)>>,
}

impl InProcessAvailability {
    pub fn new() -> Self {
        Self::default()
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
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|_, (_, until)| *until > now);
        entries.insert(interpreter, (entry.clone(), now + ttl));
        Ok(())
    }

    async fn refresh(&self, interpreters: &[UserId], ttl: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
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
        let now = Instant::now();
        Ok(self
            .entries()
            .get(&interpreter)
            .filter(|(_, until)| *until > now)
            .map(|(entry, _)| entry.clone()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::AvailabilityCache;

    dragoman_conformance::availability_suite!((
        Arc::new(super::InProcessAvailability::new()) as Arc<dyn AvailabilityCache>,
        ()
    ));
}
