//! The in-process bus: a broadcast channel. It connects the parts of one instance only.

use dragoman_ports::{Bus, Event};
use tokio::sync::broadcast;

/// How many events a subscriber may fall behind before it starts losing the oldest.
const CAPACITY: usize = 4096;

#[derive(Debug, Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<Event>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus for InProcessBus {
    fn publish(&self, event: Event) {
        // No subscriber is not an error: nobody is listening right now.
        let _ = self.sender.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
