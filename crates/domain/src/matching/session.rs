//! An interpretation session and its life cycle.
//!
//! ```text
//!   open ──end──▶ ended ──rate──▶ rated
//! ```
//!
//! Either participant may end a session, once. Only the client rates it, once, and only after it
//! has ended, because a rating during a session would judge half a conversation. The phases are
//! one enum so that a rating without an end cannot even be represented.

use super::{Need, Offer, Rating, Request, RequestId, SessionId};
use crate::UserId;
use chrono::{DateTime, TimeDelta, Utc};

/// Where a session is in its life cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionPhase {
    Open,
    Ended {
        ended_at: DateTime<Utc>,
    },
    Rated {
        ended_at: DateTime<Utc>,
        rating: Rating,
    },
}

/// Which side of a session someone is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Participant {
    Client,
    Interpreter,
}

/// A session move that is not allowed. `NotParticipant` is a 404 in the API (a stranger must not
/// learn that the session exists), `NotClient` a 403, the others 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("only the session's client and interpreter may do this")]
    NotParticipant,
    #[error("only the session's client may rate it")]
    NotClient,
    #[error("the session has already ended")]
    AlreadyEnded,
    #[error("the session has not ended yet")]
    NotEnded,
    #[error("the session has already been rated")]
    AlreadyRated,
}

/// A session between the client of a request and the interpreter who accepted its offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub request_id: RequestId,
    pub client_id: UserId,
    pub interpreter_id: UserId,
    pub need: Need,
    pub started_at: DateTime<Utc>,
    /// From the request's creation to the offer's acceptance: what the client experienced.
    pub match_time_ms: i64,
    pub phase: SessionPhase,
}

impl Session {
    /// Opens the session of an accepted offer of `request` at `started_at`.
    pub fn start(
        id: SessionId,
        request: &Request,
        offer: &Offer,
        started_at: DateTime<Utc>,
    ) -> Self {
        debug_assert_eq!(
            request.id, offer.request_id,
            "the offer is of another request"
        );
        Self {
            id,
            request_id: request.id,
            client_id: request.client_id,
            interpreter_id: offer.interpreter_id,
            need: request.need,
            started_at,
            match_time_ms: (started_at - request.created_at).num_milliseconds().max(0),
            phase: SessionPhase::Open,
        }
    }

    pub fn participant(&self, user: UserId) -> Option<Participant> {
        if user == self.client_id {
            Some(Participant::Client)
        } else if user == self.interpreter_id {
            Some(Participant::Interpreter)
        } else {
            None
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == SessionPhase::Open
    }

    pub fn ended_at(&self) -> Option<DateTime<Utc>> {
        match self.phase {
            SessionPhase::Open => None,
            SessionPhase::Ended { ended_at } | SessionPhase::Rated { ended_at, .. } => {
                Some(ended_at)
            }
        }
    }

    pub fn rating(&self) -> Option<&Rating> {
        match &self.phase {
            SessionPhase::Rated { rating, .. } => Some(rating),
            _ => None,
        }
    }

    /// How long the session lasted, once ended: what counts as talk time.
    pub fn duration(&self) -> Option<TimeDelta> {
        self.ended_at().map(|end| end - self.started_at)
    }

    /// Ends the session on behalf of `by`, one of its two participants.
    pub fn end(self, by: UserId, at: DateTime<Utc>) -> Result<Self, SessionError> {
        if self.participant(by).is_none() {
            return Err(SessionError::NotParticipant);
        }
        if !self.is_open() {
            return Err(SessionError::AlreadyEnded);
        }
        Ok(Self {
            phase: SessionPhase::Ended {
                ended_at: at.max(self.started_at),
            },
            ..self
        })
    }

    /// Records the client's rating of an ended session. Checks run in the API's order: who is
    /// asking (404, 403) before the session's state (409).
    pub fn rate(self, by: UserId, rating: Rating) -> Result<Self, SessionError> {
        match self.participant(by) {
            None => return Err(SessionError::NotParticipant),
            Some(Participant::Interpreter) => return Err(SessionError::NotClient),
            Some(Participant::Client) => {}
        }
        match self.phase {
            SessionPhase::Open => Err(SessionError::NotEnded),
            SessionPhase::Rated { .. } => Err(SessionError::AlreadyRated),
            SessionPhase::Ended { ended_at } => Ok(Self {
                phase: SessionPhase::Rated { ended_at, rating },
                ..self
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::{at, request, user};
    use crate::matching::{OfferId, RequestEvent, Stars};
    use uuid::Uuid;

    const CLIENT: u128 = 1_001;
    const INTERPRETER: u128 = 2;

    fn open() -> Session {
        let r = request(1, 0);
        let offer = Offer::new(
            OfferId(Uuid::from_u128(5)),
            &r,
            user(INTERPRETER),
            at(3),
            TimeDelta::seconds(20),
        );
        let r = r
            .apply(RequestEvent::Offer)
            .expect("offer a queued request");
        Session::start(SessionId(Uuid::from_u128(7)), &r, &offer, at(8))
    }

    fn five() -> Rating {
        Rating::new(Stars::parse(5).expect("5 stars"), Some("  clear and calm ")).expect("a rating")
    }

    #[test]
    fn a_session_records_who_and_how_long_the_client_waited() {
        let s = open();
        assert_eq!(s.client_id, user(CLIENT));
        assert_eq!(s.interpreter_id, user(INTERPRETER));
        assert_eq!(s.match_time_ms, 8_000);
        assert!(s.is_open());
        assert_eq!(s.participant(user(99)), None);
    }

    #[test]
    fn either_participant_ends_it_once_and_strangers_never() {
        for by in [CLIENT, INTERPRETER] {
            let ended = open().end(user(by), at(68)).expect("a participant ends it");
            assert_eq!(ended.ended_at(), Some(at(68)));
            assert_eq!(ended.duration(), Some(TimeDelta::seconds(60)));
            assert_eq!(
                ended.clone().end(user(by), at(70)),
                Err(SessionError::AlreadyEnded)
            );
            assert_eq!(
                ended.end(user(99), at(70)),
                Err(SessionError::NotParticipant)
            );
        }
        assert_eq!(
            open().end(user(99), at(9)),
            Err(SessionError::NotParticipant)
        );
    }

    #[test]
    fn only_the_client_rates_only_an_ended_session_only_once() {
        assert_eq!(
            open().rate(user(CLIENT), five()),
            Err(SessionError::NotEnded)
        );
        let ended = open().end(user(INTERPRETER), at(20)).expect("end");
        assert_eq!(
            ended.clone().rate(user(INTERPRETER), five()),
            Err(SessionError::NotClient)
        );
        assert_eq!(
            ended.clone().rate(user(99), five()),
            Err(SessionError::NotParticipant)
        );
        let rated = ended.rate(user(CLIENT), five()).expect("the client rates");
        assert_eq!(rated.rating().map(|r| r.stars.get()), Some(5));
        assert_eq!(
            rated.rating().and_then(|r| r.comment.as_deref()),
            Some("clear and calm")
        );
        assert_eq!(rated.ended_at(), Some(at(20)));
        assert_eq!(
            rated.rate(user(CLIENT), five()),
            Err(SessionError::AlreadyRated)
        );
    }
}
