//! An offer: one request proposed to one interpreter, and its life cycle.
//!
//! ```text
//!   pending ──▶ accepted | declined | expired | rescinded
//! ```
//!
//! Only a pending offer moves, and it moves once: whichever of the interpreter's answer, the
//! offer timeout or a rescind comes first wins, and every later one is refused with
//! [`OfferError`] (409 in the API). The store makes that race atomic; this module says which
//! outcome is allowed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{Need, OfferId, Request, RequestId};
use crate::{Invalid, UserId};

/// Where an offer is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    Pending,
    Accepted,
    Declined,
    /// Not answered within the offer timeout.
    Expired,
    /// Withdrawn before an answer: the request was cancelled or expired, or the interpreter
    /// left `reserved` by a status change.
    Rescinded,
}

/// Why an offer was withdrawn, as the `offer.rescinded` event tells the interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RescindReason {
    /// The offer timed out, or the request reached its maximum wait.
    Expired,
    /// The client cancelled the request, or the interpreter changed status.
    Cancelled,
    /// The request was matched elsewhere.
    Taken,
}

/// An answer or a timeout that came too late: the offer had already been settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("the offer is no longer pending: it was {}", .0.as_str())]
    NotPending(OfferStatus),
    /// The answer came after the offer timeout, before the timer settled the offer.
    #[error("the offer expired")]
    PastDeadline,
}

impl OfferStatus {
    pub const ALL: [OfferStatus; 5] = [
        OfferStatus::Pending,
        OfferStatus::Accepted,
        OfferStatus::Declined,
        OfferStatus::Expired,
        OfferStatus::Rescinded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OfferStatus::Pending => "pending",
            OfferStatus::Accepted => "accepted",
            OfferStatus::Declined => "declined",
            OfferStatus::Expired => "expired",
            OfferStatus::Rescinded => "rescinded",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| Invalid::new("status", format!("unknown offer status {raw:?}")))
    }

    /// Settles a pending offer with `outcome`; anything else is refused.
    pub fn settle(self, outcome: OfferStatus) -> Result<Self, OfferError> {
        match (self, outcome) {
            (OfferStatus::Pending, OfferStatus::Pending) => Err(OfferError::NotPending(self)),
            (OfferStatus::Pending, to) => Ok(to),
            (from, _) => Err(OfferError::NotPending(from)),
        }
    }
}

/// A request proposed to one interpreter until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub id: OfferId,
    pub request_id: RequestId,
    pub interpreter_id: UserId,
    /// Copied from the request so that the interpreter sees what is asked without a second read.
    pub need: Need,
    pub status: OfferStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Offer {
    /// A pending offer of `request` to `interpreter_id`, answerable for `timeout`.
    pub fn new(
        id: OfferId,
        request: &Request,
        interpreter_id: UserId,
        created_at: DateTime<Utc>,
        timeout: TimeDelta,
    ) -> Self {
        Self {
            id,
            request_id: request.id,
            interpreter_id,
            need: request.need,
            status: OfferStatus::Pending,
            created_at,
            expires_at: created_at + timeout,
        }
    }

    /// The interpreter said yes. Refused once settled, or at or after `expires_at` (the timer
    /// may not have run yet, but the client was promised the next candidate by then).
    pub fn accept(self, now: DateTime<Utc>) -> Result<Self, OfferError> {
        self.answer(OfferStatus::Accepted, now)
    }

    /// The interpreter said no. Refused like [`Offer::accept`].
    pub fn decline(self, now: DateTime<Utc>) -> Result<Self, OfferError> {
        self.answer(OfferStatus::Declined, now)
    }

    /// The offer timeout fired. Allowed whenever the offer is still pending: the timer is the
    /// authority on time, even if it fires a little early by another instance's clock.
    pub fn expire(self) -> Result<Self, OfferError> {
        self.settle(OfferStatus::Expired)
    }

    /// The offer is withdrawn before any answer.
    pub fn rescind(self) -> Result<Self, OfferError> {
        self.settle(OfferStatus::Rescinded)
    }

    pub fn is_pending(&self) -> bool {
        self.status == OfferStatus::Pending
    }

    fn answer(self, outcome: OfferStatus, now: DateTime<Utc>) -> Result<Self, OfferError> {
        if self.is_pending() && now >= self.expires_at {
            return Err(OfferError::PastDeadline);
        }
        self.settle(outcome)
    }

    fn settle(self, outcome: OfferStatus) -> Result<Self, OfferError> {
        Ok(Self {
            status: self.status.settle(outcome)?,
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::{at, request, user};
    use uuid::Uuid;

    fn pending() -> Offer {
        Offer::new(
            OfferId(Uuid::from_u128(9)),
            &request(1, 0),
            user(2),
            at(10),
            TimeDelta::seconds(20),
        )
    }

    #[test]
    fn a_pending_offer_settles_once_in_any_way() {
        let o = pending();
        assert_eq!(o.expires_at, at(30));
        assert_eq!(
            o.accept(at(29)).map(|o| o.status),
            Ok(OfferStatus::Accepted)
        );
        assert_eq!(
            o.decline(at(11)).map(|o| o.status),
            Ok(OfferStatus::Declined)
        );
        assert_eq!(o.expire().map(|o| o.status), Ok(OfferStatus::Expired));
        assert_eq!(o.rescind().map(|o| o.status), Ok(OfferStatus::Rescinded));
    }

    #[test]
    fn a_settled_offer_refuses_every_further_move() {
        let settled = [
            pending().accept(at(11)),
            pending().decline(at(11)),
            pending().expire(),
            pending().rescind(),
        ];
        for o in settled {
            let o = o.expect("settling a pending offer");
            let refused = OfferError::NotPending(o.status);
            assert_eq!(o.accept(at(12)), Err(refused));
            assert_eq!(o.decline(at(12)), Err(refused));
            assert_eq!(o.expire(), Err(refused));
            assert_eq!(o.rescind(), Err(refused));
        }
    }

    #[test]
    fn answers_after_the_deadline_are_refused_but_the_timer_still_settles() {
        let o = pending();
        assert_eq!(o.accept(at(30)), Err(OfferError::PastDeadline));
        assert_eq!(o.decline(at(31)), Err(OfferError::PastDeadline));
        assert_eq!(o.expire().map(|o| o.status), Ok(OfferStatus::Expired));
    }

    #[test]
    fn pending_is_not_an_outcome_and_statuses_round_trip() {
        assert_eq!(
            OfferStatus::Pending.settle(OfferStatus::Pending),
            Err(OfferError::NotPending(OfferStatus::Pending))
        );
        for s in OfferStatus::ALL {
            assert_eq!(OfferStatus::parse(s.as_str()), Ok(s));
        }
        assert_eq!(
            OfferError::NotPending(OfferStatus::Rescinded).to_string(),
            "the offer is no longer pending: it was rescinded"
        );
    }
}
