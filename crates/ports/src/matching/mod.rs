//! The matching store: requests, offers, sessions, presence, leases and statistics, as role
//! ports of ten methods or fewer, one module each, and [`MatchingStore`], all of them at once.
//!
//! Every method that changes state is one transaction that reads the rows it needs, applies the
//! pure transitions of `dragoman_domain::matching` to them, and writes the result back, so the
//! rules live in one place and the database only guarantees atomicity. Its constraints are the
//! last line against double assignment whatever the number of instances; they have the same
//! names in both schemas, and each role's module says which of them its implementations keep:
//! - [`requests`]: `requests_one_open_per_client`, a client has at most one `queued` or
//!   `offered` request;
//! - [`claims`]: `offers_one_pending_per_request`, `offers_one_pending_per_interpreter`, and
//!   `offers_request_interpreter_key` (an interpreter is never offered the same request twice);
//! - [`offers`]: `sessions_request_key`, a request has at most one session, and
//!   `sessions_one_open_per_interpreter`, an interpreter has at most one open session.
//!
//! Durable timers are columns, not memory: a pending offer's `expires_at` ([`offers`]), an open
//! request's `expires_at` ([`requests`]), an interpreter's wrap-up start ([`sessions`]).
//! Whichever instance sweeps next settles what is due, so a restart loses or stalls nothing.
//!
//! The roles follow the seams of the conformance suite (`dragoman_conformance::matching`), so
//! an adapter or a decorator implements what it serves; an implementation of every role is a
//! [`MatchingStore`] without further code.

pub mod claims;
pub mod explanations;
pub mod leases;
pub mod offers;
pub mod presence;
pub mod requests;
pub mod sessions;
pub mod stats;

pub use claims::ClaimStore;
pub use explanations::{ExplanationStore, StoredExplanation};
pub use leases::LeaseStore;
pub use offers::{AcceptOutcome, DeclineOutcome, ExpiredOffer, OfferStore};
pub use presence::{PresenceRecord, PresenceStore, SetStatusOutcome};
pub use requests::{
    CancelOutcome, CreateRequestOutcome, ExpiredRequest, IDEMPOTENCY_WINDOW, IdempotencyKey,
    RequestRecord, RequestStore,
};
pub use sessions::{SessionOutcome, SessionStore};
pub use stats::{LanguageLoad, RecentActivity, StatsStore, StatusCount};

/// Every matching role at once: what the engine holds (`Arc<dyn MatchingStore>`). Implemented
/// for whatever implements each role; a role's methods are callable on `dyn MatchingStore`
/// without importing the role.
pub trait MatchingStore:
    RequestStore
    + ClaimStore
    + OfferStore
    + SessionStore
    + PresenceStore
    + LeaseStore
    + StatsStore
    + ExplanationStore
{
}

impl<T> MatchingStore for T where
    T: RequestStore
        + ClaimStore
        + OfferStore
        + SessionStore
        + PresenceStore
        + LeaseStore
        + StatsStore
        + ExplanationStore
        + ?Sized
{
}
