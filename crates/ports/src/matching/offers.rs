//! The offers role: an interpreter's answer to an offer, and the offer's timeout.
//!
//! Invariants every implementation keeps:
//! - An accept is all or nothing: the offer `accepted`, the request `matched`, the interpreter
//!   `busy` and the session opened, under `sessions_request_key` (a request has at most one
//!   session) and `sessions_one_open_per_interpreter`.
//! - An offer is settled once: of an answer and the timer (or two answers) racing on one
//!   pending offer, exactly one wins and the other is refused as too late.
//! - A decline puts the request back in the queue; the interpreter is never offered it again
//!   (`offers_request_interpreter_key`).
//! - The timeout is a column (`expires_at`): whichever instance sweeps next settles what is due,
//!   and `max_no_answer` misses in a row set the interpreter `away`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Offer, OfferError, OfferId, Session, SessionId};

use crate::StoreError;
use crate::matching::RequestRecord;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    /// Unknown, or offered to someone else.
    NotFound,
    Refused(OfferError),
    Accepted {
        session: Session,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclineOutcome {
    NotFound,
    Refused(OfferError),
    /// The request waits again (`queued`) for the next candidate.
    Declined {
        offer: Offer,
        request: RequestRecord,
    },
}

/// An offer settled by its timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredOffer {
    pub offer: Offer,
    pub request: RequestRecord,
    /// The interpreter let `max_no_answer` offers in a row expire and is now `away`.
    pub went_away: bool,
}

/// Offers as the interpreter answers them, and their timer.
#[async_trait]
pub trait OfferStore: Send + Sync + std::fmt::Debug {
    async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError>;

    async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<Offer>, StoreError>;

    /// Accepts: the offer is `accepted`, the request `matched`, the interpreter `busy` and the
    /// session opened under `session_id`, all or nothing.
    async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<AcceptOutcome, StoreError>;

    async fn decline_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError>;

    /// Settles every pending offer whose `expires_at` is at or before `now`.
    async fn expire_offers(
        &self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Vec<ExpiredOffer>, StoreError>;
}
