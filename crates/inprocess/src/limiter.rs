//! Failure counting in process memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dragoman_ports::{AttemptLimiter, Clock, SystemClock};
use tokio::time::Instant;

/// The most keys kept at once. Beyond it, expired windows are swept; if every window is still
/// open the oldest is dropped, so a flood of distinct keys costs bounded memory (at worst it
/// forgets some counts early, which weakens the limit for an attacker who already has many
/// addresses, and never locks anyone out wrongly).
const MAX_KEYS: usize = 100_000;

/// Fixed-window failure counts per key.
#[derive(Debug)]
pub struct InProcessLimiter {
    /// A std mutex, not a tokio one: nothing awaits while it is held, and each critical section
    /// is a hash-map operation.
    windows: Mutex<HashMap<String, Window>>,
    /// What the windows are measured on.
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    failures: u32,
    ends: Instant,
}

impl InProcessLimiter {
    /// Windows timed on the system's clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// Windows timed on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // A panic while holding the lock leaves counts that are still meaningful.
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for InProcessLimiter {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl AttemptLimiter for InProcessLimiter {
    async fn blocked_for(&self, key: &str, limit: u32) -> anyhow::Result<Option<Duration>> {
        let now = self.clock.instant();
        Ok(self
            .lock()
            .get(key)
            .and_then(|w| (w.ends > now && w.failures >= limit).then(|| w.ends - now)))
    }

    async fn record_failure(&self, key: &str, window: Duration) -> anyhow::Result<()> {
        let now = self.clock.instant();
        let mut windows = self.lock();
        let entry = open_window(&mut windows, key, window, now);
        entry.failures = entry.failures.saturating_add(1);
        Ok(())
    }

    async fn reset(&self, key: &str) -> anyhow::Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    async fn reserve(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> anyhow::Result<Option<Duration>> {
        let now = self.clock.instant();
        // Reading and raising the count under one lock is what makes the reservation atomic.
        let mut windows = self.lock();
        let entry = open_window(&mut windows, key, window, now);
        if entry.failures >= limit {
            return Ok(Some(entry.ends - now));
        }
        entry.failures += 1;
        Ok(None)
    }

    async fn release(&self, key: &str) -> anyhow::Result<()> {
        let now = self.clock.instant();
        if let Some(w) = self.lock().get_mut(key)
            && w.ends > now
        {
            w.failures = w.failures.saturating_sub(1);
        }
        Ok(())
    }
}

/// The key's window, opened now if it has none or its last one has closed. Makes room first
/// when the map is full (see [`MAX_KEYS`]).
fn open_window<'a>(
    windows: &'a mut HashMap<String, Window>,
    key: &str,
    window: Duration,
    now: Instant,
) -> &'a mut Window {
    if windows.len() >= MAX_KEYS && !windows.contains_key(key) {
        windows.retain(|_, w| w.ends > now);
        // A scan of at most MAX_KEYS entries, only when full: cheap beside the password
        // hash every failed login has already cost.
        if windows.len() >= MAX_KEYS
            && let Some(oldest) = windows
                .iter()
                .min_by_key(|(_, w)| w.ends)
                .map(|(k, _)| k.clone())
        {
            windows.remove(&oldest);
        }
    }
    let entry = windows.entry(key.to_owned()).or_insert(Window {
        failures: 0,
        ends: now + window,
    });
    if entry.ends <= now {
        *entry = Window {
            failures: 0,
            ends: now + window,
        };
    }
    entry
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_conformance::Time;
    use dragoman_ports::AttemptLimiter;

    dragoman_conformance::limiter_suite!(manual {
        let (clock, time) = Time::manual();
        (
            Arc::new(super::InProcessLimiter::with_clock(clock)) as Arc<dyn AttemptLimiter>,
            time,
            (),
        )
    });
}
