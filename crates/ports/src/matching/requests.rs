//! The requests role: a client's request for an interpreter, from creation to its end.
//!
//! Invariants every implementation keeps:
//! - `requests_one_open_per_client`: a client has at most one `queued` or `offered` request; a
//!   second is refused with `Conflict` naming that constraint, whatever the number of instances.
//! - An idempotency key is checked before that rule, in the same transaction as the creation: a
//!   retry of a creation that succeeded replays it (with the body saved for it) within
//!   [`IDEMPOTENCY_WINDOW`]; a creation refused by the rule leaves no key behind.
//! - Cancellation and expiry move the request by the domain's life cycle and, in the same
//!   transaction, rescind its pending offer and release that offer's interpreter.
//! - The maximum wait is a column (`expires_at`), not memory: whichever instance sweeps next
//!   expires what is due, and a request expires once however many sweep at once.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{Offer, Request, RequestId, SessionId};
use dragoman_domain::{LanguageCode, UserId};

use crate::StoreError;

/// A request with what the store keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub request: Request,
    /// When it expires if still unmatched (created_at + the maximum wait).
    pub expires_at: DateTime<Utc>,
    /// Set once matched.
    pub session_id: Option<SessionId>,
}

/// How long a client's `Idempotency-Key` is remembered: the store replays its first answer
/// within this, and the retention job deletes it after.
pub const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The client's `Idempotency-Key` for a new request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    /// A key older than this is forgotten: it may be reused for a new request (24 h before now).
    pub not_before: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRequestOutcome {
    Created,
    /// The same client used the same key within 24 h: nothing was created. `response` is the
    /// body answered the first time, once it has been saved.
    Replayed {
        request_id: RequestId,
        response: Option<String>,
    },
}

/// What a cancellation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Unknown, or not this client's.
    NotFound,
    /// Already matched, cancelled or expired: nothing changed.
    NotOpen(RequestRecord),
    /// Cancelled; its pending offer, if any, is rescinded and the interpreter released.
    Cancelled {
        request: RequestRecord,
        rescinded: Option<Offer>,
    },
}

/// A request that waited the maximum wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredRequest {
    pub request: RequestRecord,
    /// Its pending offer, rescinded (reason `expired`), if it had one.
    pub rescinded: Option<Offer>,
}

/// Requests: creation (under an idempotency key), reads, cancellation and the maximum wait.
#[async_trait]
pub trait RequestStore: Send + Sync + std::fmt::Debug {
    /// Stores a new `queued` request. With a key, records it for the client in the same
    /// transaction, or replays an earlier use of it (see [`CreateRequestOutcome`]). A client with
    /// an open request gets `Conflict { constraint: "requests_one_open_per_client" }`.
    async fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreateRequestOutcome, StoreError>;

    /// Saves the body answered for a request created with an idempotency key.
    async fn save_idempotent_response(
        &self,
        client: UserId,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError>;

    async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError>;

    async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError>;

    /// The open (queued and offered) requests of a language, in no particular order.
    async fn open_requests(&self, language: LanguageCode) -> Result<Vec<Request>, StoreError>;

    /// Expires every open request whose `expires_at` is at or before `now`.
    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredRequest>, StoreError>;
}
