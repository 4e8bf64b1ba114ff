//! Matching: who is offered which request, when, and why; and the life cycles of request, offer,
//! session and interpreter status that matching drives.
//!
//! Everything here is a pure function of the values it is given. The store supplies snapshots
//! and applies decisions atomically; the clock, the ids and the timers belong to the layers
//! above. Keeping the rules free of I/O is what lets property tests run thousands of random
//! interleavings of requests, answers, timeouts and cancellations against them, and lets every
//! instance of the service make the same decision from the same data.
//!
//! One concept per file:
//! - [`ids`]: `RequestId`, `OfferId`, `SessionId`;
//! - [`request`], [`offer`], [`session`], [`presence`]: the life cycles, as transition functions
//!   that return the next state or a typed error;
//! - [`queue`]: the order of waiting requests and their queue positions.

pub mod ids;
pub mod offer;
pub mod presence;
pub mod queue;
pub mod request;
pub mod session;

pub use ids::{OfferId, RequestId, SessionId};
pub use offer::{Offer, OfferError, OfferStatus, RescindReason};
pub use presence::{AwayReason, Presence, PresenceEvent, PresenceTransitionError};
pub use queue::{Priority, queue_order, queue_position, queue_positions};
pub use request::{Need, Request, RequestEvent, RequestStatus, RequestTransitionError};
pub use session::{Participant, Rating, Session, SessionError, SessionPhase, Stars};

#[cfg(test)]
mod fixtures;
