//! A client's request for an interpreter and its life cycle.
//!
//! ```text
//!   queued ──offer──▶ offered ──match──▶ matched
//!     ▲                  │
//!     └─────requeue──────┘   (the offer was declined, expired or rescinded)
//!   queued | offered ──cancel──▶ cancelled
//!   queued | offered ──expire──▶ expired     (unmatched after the maximum wait)
//! ```
//!
//! `matched`, `cancelled` and `expired` are final. Each move is a function from the current
//! status to the next one or a [`RequestTransitionError`], so that no layer can write a status
//! the life cycle does not allow; the HTTP layer answers such an error with 409.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{Priority, RequestId};
use crate::{Invalid, LanguageCode, Modality, Specialization, UserId};

/// What a request needs from an interpreter: the three hard constraints of matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Need {
    pub language: LanguageCode,
    pub specialization: Specialization,
    pub modality: Modality,
}

impl Need {
    /// Applies the API's defaults: `general` and `video` when the client names none.
    pub fn new(
        language: LanguageCode,
        specialization: Option<Specialization>,
        modality: Option<Modality>,
    ) -> Self {
        Self {
            language,
            specialization: specialization.unwrap_or(Specialization::General),
            modality: modality.unwrap_or(Modality::Video),
        }
    }
}

/// Where a request is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Queued,
    Offered,
    Matched,
    Cancelled,
    Expired,
}

/// Something that happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestEvent {
    /// An offer of it was made to an interpreter.
    Offer,
    /// Its pending offer was declined, expired or rescinded: it waits again.
    Requeue,
    /// Its pending offer was accepted.
    Match,
    Cancel,
    Expire,
}

impl RequestEvent {
    fn as_str(self) -> &'static str {
        match self {
            RequestEvent::Offer => "offered",
            RequestEvent::Requeue => "queued again",
            RequestEvent::Match => "matched",
            RequestEvent::Cancel => "cancelled",
            RequestEvent::Expire => "expired",
        }
    }
}

/// A move the request life cycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {} cannot be {}", .from.as_str(), .event.as_str())]
pub struct RequestTransitionError {
    pub from: RequestStatus,
    pub event: RequestEvent,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 5] = [
        RequestStatus::Queued,
        RequestStatus::Offered,
        RequestStatus::Matched,
        RequestStatus::Cancelled,
        RequestStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Queued => "queued",
            RequestStatus::Offered => "offered",
            RequestStatus::Matched => "matched",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| Invalid::new("status", format!("unknown request status {raw:?}")))
    }

    /// Still waiting for an interpreter (a client has at most one open request).
    pub fn is_open(self) -> bool {
        matches!(self, RequestStatus::Queued | RequestStatus::Offered)
    }

    pub fn is_final(self) -> bool {
        !self.is_open()
    }

    /// The one transition table of the request life cycle.
    pub fn apply(self, event: RequestEvent) -> Result<Self, RequestTransitionError> {
        use RequestEvent as E;
        use RequestStatus as S;
        match (self, event) {
            (S::Queued, E::Offer) => Ok(S::Offered),
            (S::Offered, E::Requeue) => Ok(S::Queued),
            (S::Offered, E::Match) => Ok(S::Matched),
            (S::Queued | S::Offered, E::Cancel) => Ok(S::Cancelled),
            (S::Queued | S::Offered, E::Expire) => Ok(S::Expired),
            (from, event) => Err(RequestTransitionError { from, event }),
        }
    }
}

/// A request for an interpreter, as matching sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub id: RequestId,
    pub client_id: UserId,
    pub need: Need,
    pub priority: Priority,
    pub created_at: DateTime<Utc>,
    pub status: RequestStatus,
}

impl Request {
    /// A new request: it starts `queued`.
    pub fn new(
        id: RequestId,
        client_id: UserId,
        need: Need,
        priority: Priority,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            client_id,
            need,
            priority,
            created_at,
            status: RequestStatus::Queued,
        }
    }

    /// Moves the request through its life cycle.
    pub fn apply(self, event: RequestEvent) -> Result<Self, RequestTransitionError> {
        Ok(Self {
            status: self.status.apply(event)?,
            ..self
        })
    }

    /// When the request expires if still unmatched: the instant to schedule its expiry timer.
    pub fn expires_at(&self, max_wait: TimeDelta) -> DateTime<Utc> {
        self.created_at + max_wait
    }

    /// Whether the request is open and has waited the whole maximum wait. The boundary counts
    /// as expired, so that a timer firing exactly on time does its job.
    pub fn is_overdue(&self, now: DateTime<Utc>, max_wait: TimeDelta) -> bool {
        self.status.is_open() && now >= self.expires_at(max_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::{at, request};
    use RequestEvent as E;
    use RequestStatus as S;

    #[test]
    fn the_transition_table_is_exactly_the_life_cycle() {
        let allowed = [
            (S::Queued, E::Offer, S::Offered),
            (S::Offered, E::Requeue, S::Queued),
            (S::Offered, E::Match, S::Matched),
            (S::Queued, E::Cancel, S::Cancelled),
            (S::Offered, E::Cancel, S::Cancelled),
            (S::Queued, E::Expire, S::Expired),
            (S::Offered, E::Expire, S::Expired),
        ];
        let events = [E::Offer, E::Requeue, E::Match, E::Cancel, E::Expire];
        for from in S::ALL {
            for event in events {
                let expected = allowed
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to)
                    .ok_or(RequestTransitionError { from, event });
                assert_eq!(from.apply(event), expected, "{from:?} + {event:?}");
            }
        }
    }

    #[test]
    fn a_matched_request_cannot_be_cancelled() {
        let r = request(1, 0)
            .apply(E::Offer)
            .and_then(|r| r.apply(E::Match))
            .expect("offered then matched");
        let err = r.apply(E::Cancel).expect_err("cancel after match");
        assert_eq!(err.from, S::Matched);
        assert_eq!(
            err.to_string(),
            "a request that is matched cannot be cancelled"
        );
    }

    #[test]
    fn final_statuses_are_final_and_statuses_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Ok(s));
            assert_eq!(
                s.is_final(),
                matches!(s, S::Matched | S::Cancelled | S::Expired)
            );
        }
        assert!(S::parse("waiting").is_err());
    }

    #[test]
    fn a_request_is_overdue_from_the_end_of_its_maximum_wait() {
        let max_wait = TimeDelta::seconds(300);
        let r = request(1, 0);
        assert_eq!(r.expires_at(max_wait), at(300));
        assert!(!r.is_overdue(at(299), max_wait));
        assert!(r.is_overdue(at(300), max_wait));
        let cancelled = r.apply(E::Cancel).expect("cancel a queued request");
        assert!(!cancelled.is_overdue(at(400), max_wait));
    }

    #[test]
    fn a_need_defaults_to_general_video() {
        let n = Need::new(crate::matching::fixtures::lang("fr"), None, None);
        assert_eq!(n.specialization, Specialization::General);
        assert_eq!(n.modality, Modality::Video);
    }
}
