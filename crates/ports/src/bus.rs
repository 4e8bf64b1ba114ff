//! The bus port: events between the parts of one instance and, with a networked bus, between
//! instances; and the per-user event log that lets a reconnecting app resume.
//!
//! The matching engine publishes; every instance's WebSocket gateway subscribes and relays to its
//! own connections. An event addressed to a user gets that user's next id when it is published
//! (ids increase per user, whichever instance publishes) and is kept in the user's log for at
//! least [`RETENTION`], so `resume` can replay it from any instance. Topic events (availability)
//! and instructions to the gateways carry no id and are not kept.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::UserId;

/// How long a user's events stay replayable (API.md promises at least 10 minutes).
pub const RETENTION: Duration = Duration::from_secs(15 * 60);

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Audience {
    /// One user, on every device: events with an id that a reconnecting app can resume.
    User(UserId),
    /// Everyone subscribed to a topic (`availability`): not replayed.
    Topic(String),
    /// The WebSocket gateway of every instance: an instruction about the connections they hold
    /// (close a socket, or all of a user's), never sent to a client and never kept.
    Gateways,
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

/// An event as subscribers receive it: with its id when addressed to a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub id: Option<u64>,
    pub event: Event,
}

/// What `resume` finds in a user's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The retained events after the given id, oldest first.
    pub events: Vec<Arc<Delivered>>,
    /// The user's latest id (0 if none was ever assigned).
    pub latest: u64,
}

/// Publishes events and hands out subscriptions.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Publishes to every current subscriber of every instance. Never blocks the caller: a user
    /// event is numbered and logged, then broadcast; a subscriber too slow to keep up loses
    /// events (it sees a lag) and recovers them by replaying the log.
    fn publish(&self, event: Event);

    /// A new subscription to every event published from now on, on any instance.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Delivered>>;

    /// The user's retained events with an id greater than `after`.
    async fn replay(&self, user: UserId, after: u64) -> anyhow::Result<Replay>;

    /// Answers when the bus's backend answers (the readiness check). In-process: always.
    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }
}
