//! The bus port: events between the parts of one instance and, with a networked bus, between
//! instances. The matching engine publishes; the real-time gateway relays to WebSockets.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// One user, on every device: events with an id that a reconnecting app can resume.
    User(UserId),
    /// Everyone subscribed to a topic (`availability`): not replayed.
    Topic(String),
}

/// Something that happened, as the API's WebSocket section names it (`offer.created`,
/// `request.matched`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub audience: Audience,
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    /// The payload, in the API's JSON shape.
    pub data: serde_json::Value,
}

/// Publishes events and hands out subscriptions.
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Publishes to every current subscriber. Never blocks: a subscriber too slow to keep up
    /// loses events (it sees a lag and recovers by resuming from the store).
    fn publish(&self, event: Event);

    /// A new subscription to every event published from now on.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event>;
}
