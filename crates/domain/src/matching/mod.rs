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
//! - [`config`]: the tunable settings and their defaults;
//! - [`request`], [`offer`], [`session`], [`presence`]: the life cycles, as transition functions
//!   that return the next state or a typed error; [`manual_status`]: the interpreter's own status
//!   changes and how they meet matching's; [`rating`]: the client's rating of a session;
//! - [`eligibility`]: the hard constraints and the rule that excludes each interpreter;
//! - [`strategy`]: the pluggable order of eligible interpreters;
//! - [`queue`]: the order of waiting requests and their queue positions;
//! - [`explanation`]: the stored record of each decision;
//! - [`plan`]: what one round of matching sees and decides; [`matcher`]: how it decides;
//! - [`estimate`]: the estimated wait of a queued request.

pub mod config;
pub mod eligibility;
pub mod estimate;
pub mod explanation;
pub mod ids;
pub mod manual_status;
pub mod matcher;
pub mod offer;
pub mod plan;
pub mod presence;
pub mod queue;
pub mod rating;
pub mod request;
pub mod session;
pub mod strategy;

pub use config::MatchingConfig;
pub use eligibility::{
    Assessment, ExcludedInterpreter, Exclusion, InterpreterSnapshot, OfferHistory, assess, check,
    covers,
};
pub use estimate::{WaitInputs, estimate_wait};
pub use explanation::{Explanation, explain};
pub use ids::{OfferId, RequestId, SessionId};
pub use matcher::Matcher;
pub use offer::{Offer, OfferError, OfferStatus, RescindReason};
pub use plan::{Expiry, Plan, PlannedOffer, Snapshot};
pub use presence::{AwayReason, Presence, PresenceEvent, PresenceTransitionError};
pub use queue::{Priority, queue_order, queue_position, queue_positions};
pub use rating::{Rating, Stars};
pub use request::{Need, Request, RequestEvent, RequestStatus, RequestTransitionError};
pub use session::{Participant, Session, SessionError, SessionPhase};
pub use strategy::{Candidate, OrderingKey, Strategy};

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod model;
