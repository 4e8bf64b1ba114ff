//! What one round of matching sees and what it decides.
//!
//! A round reads a [`Snapshot`] of the store and returns a [`Plan`]: the offers to make, each
//! with its [`Explanation`], and the requests to expire. These are plain values so that the
//! deciding ([`super::Matcher`]) stays pure and the applying (the store, in one transaction per
//! offer) stays simple: the plan names everything the store must write, including the pending
//! offers that go with expiring requests.

use chrono::{DateTime, Utc};

use super::{
    Explanation, InterpreterSnapshot, Need, Offer, OfferHistory, OfferId, OfferStatus, Request,
    RequestId,
};
use crate::UserId;

/// What matching sees at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The open requests (`queued` and `offered`); closed ones are ignored.
    pub requests: Vec<Request>,
    /// The interpreters to consider, whatever their status: each explanation accounts for every
    /// one of them (naming the online, counting the offline), so a store with thousands should
    /// pass those who speak the waiting languages.
    pub interpreters: Vec<InterpreterSnapshot>,
    /// Every (request, interpreter) pair already offered.
    pub history: OfferHistory,
    /// The pending offers. Without them the plan still never double-books, but an interpreter
    /// whose request expires in this round stays out of it until the next.
    pub pending_offers: Vec<Offer>,
}

/// An offer to make, with the reasons for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOffer {
    pub request_id: RequestId,
    pub interpreter_id: UserId,
    pub need: Need,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub explanation: Explanation,
}

impl PlannedOffer {
    /// The pending offer to store, under an id minted by the caller.
    pub fn to_offer(&self, id: OfferId) -> Offer {
        Offer {
            id,
            request_id: self.request_id,
            interpreter_id: self.interpreter_id,
            need: self.need,
            status: OfferStatus::Pending,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// The outcome of one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In queue order.
    pub offers: Vec<PlannedOffer>,
    /// Requests past their maximum wait, in queue order.
    pub expired: Vec<Expiry>,
}

/// A request to expire, with the pending offer to rescind along with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub request_id: RequestId,
    /// The request's pending offer, if any: rescind it (reason `expired`) and release its
    /// interpreter with [`super::Presence::rescind`]. The plan already counted them free.
    pub rescind: Option<Offer>,
}
