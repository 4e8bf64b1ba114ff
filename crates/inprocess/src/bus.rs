//! The in-process bus: a broadcast channel and per-user logs in memory. It connects the parts of
//! one instance only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dragoman_domain::UserId;
use dragoman_ports::bus::RETENTION;
use dragoman_ports::{Audience, Bus, Clock, Delivered, Event, Replay, SystemClock};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// How many events a subscriber may fall behind before it starts losing the oldest.
const CAPACITY: usize = 4096;
/// The most events kept per user, whatever their age: memory stays bounded for a user who
/// receives a flood.
const MAX_PER_USER: usize = 1000;

#[derive(Debug, Default)]
struct UserLog {
    latest: u64,
    events: VecDeque<(Instant, Arc<Delivered>)>,
}

impl UserLog {
    fn trim(&mut self, now: Instant) {
        while self.events.front().is_some_and(|(at, _)| {
            now.duration_since(*at) > RETENTION || self.events.len() > MAX_PER_USER
        }) {
            self.events.pop_front();
        }
    }
}

#[derive(Debug)]
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<Delivered>>,
    /// A std mutex: held only to number, push and trim, never across an await.
    logs: Mutex<HashMap<UserId, UserLog>>,
    /// What the logs' retention is measured on.
    clock: Arc<dyn Clock>,
}

impl InProcessBus {
    /// A bus whose logs age on the system's clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A bus whose logs age on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            logs: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, UserLog>> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Bus for InProcessBus {
    fn publish(&self, event: Event) {
        let delivered = match &event.audience {
            Audience::User(user) => {
                let user = *user;
                let now = self.clock.instant();
                let mut logs = self.logs();
                let log = logs.entry(user).or_default();
                log.latest += 1;
                let delivered = Arc::new(Delivered {
                    id: Some(log.latest),
                    event,
                });
                log.events.push_back((now, delivered.clone()));
                log.trim(now);
                delivered
            }
            Audience::Topic(_) | Audience::Gateways => Arc::new(Delivered { id: None, event }),
        };
        // No subscriber is not an error: nobody is listening right now.
        let _ = self.sender.send(delivered);
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Delivered>> {
        self.sender.subscribe()
    }

    async fn replay(&self, user: UserId, after: u64) -> anyhow::Result<Replay> {
        let now = self.clock.instant();
        let mut logs = self.logs();
        let Some(log) = logs.get_mut(&user) else {
            return Ok(Replay {
                events: Vec::new(),
                latest: 0,
            });
        };
        log.trim(now);
        Ok(Replay {
            events: log
                .events
                .iter()
                .filter(|(_, d)| d.id.is_some_and(|id| id > after))
                .map(|(_, d)| d.clone())
                .collect(),
            latest: log.latest,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dragoman_ports::Bus;

    dragoman_conformance::bus_suite!((Arc::new(super::InProcessBus::new()) as Arc<dyn Bus>, ()));
}
