//! An interpreter's status as matching drives it, beside the changes the interpreter asks for.
//!
//! ```text
//!   available ──reserve──▶ reserved ──accept──▶ busy ──end session──▶ wrap_up ──finish──▶ available
//!       ▲                     │
//!       └─decline|miss|rescind┘   (the Nth miss in a row leads to away instead)
//! ```
//!
//! The interpreter may still ask for `available`, `away` or `offline` at any time except during
//! a session, by [`InterpreterStatus::manual_change`]'s rules: leaving `reserved` that way means
//! the pending offer must be rescinded by the caller, and leaving `wrap_up` cuts it short (the
//! wrap-up timer then finds the interpreter elsewhere and [`Presence::finish_wrap_up`] refuses,
//! which the timer treats as nothing to do).
//!
//! `idle_since` is what longest-idle-first orders by: when the interpreter last became
//! `available`. A decline or a miss counts as becoming available again, so that whoever just
//! turned an offer down or let it lapse goes behind those who have been waiting; a rescind does
//! not, because the offer vanished through no act of the interpreter's and they keep their place.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::{InterpreterStatus, StatusChangeError};

/// Why the system set an interpreter `away`, to be shown to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AwayReason {
    /// `count` offers in a row expired unanswered.
    MissedOffers { count: u32 },
}

/// Something matching does to an interpreter's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceEvent {
    Reserve,
    Accept,
    Decline,
    Miss,
    Rescind,
    EndSession,
    FinishWrapUp,
}

/// A move matching tried that the interpreter's current status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an interpreter who is {} cannot take the {event:?} step", .from.as_str())]
pub struct PresenceTransitionError {
    pub from: InterpreterStatus,
    pub event: PresenceEvent,
}

/// An interpreter's status with what matching needs to remember about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub status: InterpreterStatus,
    /// When `status` last changed (the API's `since`).
    pub since: DateTime<Utc>,
    /// When the interpreter last became `available`; kept while `reserved` so that a rescinded
    /// offer can give the place back.
    pub idle_since: DateTime<Utc>,
    /// Offers that expired unanswered since the last answer or manual change.
    pub missed_in_a_row: u32,
    /// Set when the system, not the interpreter, chose `away`.
    pub away_reason: Option<AwayReason>,
}

impl Presence {
    /// A new interpreter: `offline`, offered nothing until they choose `available`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            status: InterpreterStatus::Offline,
            since: now,
            idle_since: now,
            missed_in_a_row: 0,
            away_reason: None,
        }
    }

    /// An offer is made: `available` to `reserved`.
    pub fn reserve(self, now: DateTime<Utc>) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::Available, PresenceEvent::Reserve)?;
        Ok(self.moved(InterpreterStatus::Reserved, now))
    }

    /// The offer is accepted: `reserved` to `busy`. An answer ends any run of misses.
    pub fn accept(self, now: DateTime<Utc>) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::Reserved, PresenceEvent::Accept)?;
        let busy = self.moved(InterpreterStatus::Busy, now);
        Ok(Self {
            missed_in_a_row: 0,
            ..busy
        })
    }

    /// The offer is declined: back to `available`, at the back of the idle line.
    pub fn decline(self, now: DateTime<Utc>) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::Reserved, PresenceEvent::Decline)?;
        Ok(Self {
            missed_in_a_row: 0,
            ..self.became_available(now)
        })
    }

    /// The offer expired unanswered: back to `available`, or `away` with the reason once
    /// `max_no_answer` offers in a row have expired.
    pub fn miss(
        self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::Reserved, PresenceEvent::Miss)?;
        let missed = self.missed_in_a_row.saturating_add(1);
        if missed >= max_no_answer {
            let away = self.moved(InterpreterStatus::Away, now);
            return Ok(Self {
                missed_in_a_row: 0,
                away_reason: Some(AwayReason::MissedOffers { count: missed }),
                ..away
            });
        }
        Ok(Self {
            missed_in_a_row: missed,
            ..self.became_available(now)
        })
    }

    /// The offer was withdrawn before an answer: back to `available`, keeping the idle place.
    pub fn rescind(self, now: DateTime<Utc>) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::Reserved, PresenceEvent::Rescind)?;
        Ok(self.moved(InterpreterStatus::Available, now))
    }

    /// The session ended: `busy` to `wrap_up`.
    pub fn end_session(self, now: DateTime<Utc>) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::Busy, PresenceEvent::EndSession)?;
        Ok(self.moved(InterpreterStatus::WrapUp, now))
    }

    /// The wrap-up pause is over: `wrap_up` to `available`.
    pub fn finish_wrap_up(self, now: DateTime<Utc>) -> Result<Self, PresenceTransitionError> {
        self.expect(InterpreterStatus::WrapUp, PresenceEvent::FinishWrapUp)?;
        Ok(self.became_available(now))
    }

    /// When the wrap-up timer should fire, while in wrap-up.
    pub fn wrap_up_ends_at(&self, wrap_up: TimeDelta) -> Option<DateTime<Utc>> {
        (self.status == InterpreterStatus::WrapUp).then(|| self.since + wrap_up)
    }

    /// The interpreter asks for `to`, one of `available`, `away` or `offline` (as
    /// [`InterpreterStatus::parse_manual`] guarantees). Asking for the current status changes
    /// nothing; any real change clears the run of misses and the away reason.
    pub fn set_manually(
        self,
        to: InterpreterStatus,
        has_profile: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, StatusChangeError> {
        debug_assert!(
            matches!(
                to,
                InterpreterStatus::Available | InterpreterStatus::Away | InterpreterStatus::Offline
            ),
            "{to:?} is set by the system, not asked for"
        );
        let to = self.status.manual_change(to, has_profile)?;
        if to == self.status {
            return Ok(self);
        }
        let moved = if to == InterpreterStatus::Available {
            self.became_available(now)
        } else {
            self.moved(to, now)
        };
        Ok(Self {
            missed_in_a_row: 0,
            away_reason: None,
            ..moved
        })
    }

    /// Whether an offer to this interpreter is pending (and must be rescinded on a manual change).
    pub fn holds_offer(&self) -> bool {
        self.status == InterpreterStatus::Reserved
    }

    fn expect(
        &self,
        status: InterpreterStatus,
        event: PresenceEvent,
    ) -> Result<(), PresenceTransitionError> {
        if self.status == status {
            Ok(())
        } else {
            Err(PresenceTransitionError {
                from: self.status,
                event,
            })
        }
    }

    fn moved(self, status: InterpreterStatus, now: DateTime<Utc>) -> Self {
        Self {
            status,
            since: now,
            away_reason: None,
            ..self
        }
    }

    fn became_available(self, now: DateTime<Utc>) -> Self {
        Self {
            idle_since: now,
            ..self.moved(InterpreterStatus::Available, now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::at;
    use InterpreterStatus as S;

    fn available(at_s: i64) -> Presence {
        Presence::new(at(0))
            .set_manually(S::Available, true, at(at_s))
            .expect("an interpreter with a profile becomes available")
    }

    #[test]
    fn a_working_cycle_comes_back_to_available() {
        let p = available(5);
        assert_eq!((p.status, p.idle_since), (S::Available, at(5)));
        let p = p.reserve(at(10)).expect("reserve");
        assert!(p.holds_offer());
        let p = p.accept(at(12)).expect("accept");
        assert_eq!((p.status, p.since), (S::Busy, at(12)));
        let p = p.end_session(at(100)).expect("end");
        assert_eq!(p.status, S::WrapUp);
        assert_eq!(p.wrap_up_ends_at(TimeDelta::seconds(10)), Some(at(110)));
        let p = p.finish_wrap_up(at(110)).expect("wrap-up over");
        assert_eq!((p.status, p.idle_since), (S::Available, at(110)));
        assert_eq!(p.wrap_up_ends_at(TimeDelta::seconds(10)), None);
    }

    #[test]
    fn a_decline_or_a_miss_loses_the_idle_place_and_a_rescind_keeps_it() {
        let reserved = available(5).reserve(at(10)).expect("reserve");
        assert_eq!(reserved.decline(at(11)).map(|p| p.idle_since), Ok(at(11)));
        assert_eq!(reserved.miss(at(30), 3).map(|p| p.idle_since), Ok(at(30)));
        let back = reserved.rescind(at(12)).expect("rescind");
        assert_eq!(
            (back.status, back.since, back.idle_since),
            (S::Available, at(12), at(5))
        );
    }

    #[test]
    fn the_nth_miss_in_a_row_sets_away_with_the_reason() {
        let mut p = available(0);
        for n in 1..=2 {
            p = p
                .reserve(at(n))
                .and_then(|p| p.miss(at(n), 3))
                .expect("miss");
            assert_eq!((p.status, p.missed_in_a_row), (S::Available, n as u32));
        }
        let away = p
            .reserve(at(3))
            .and_then(|p| p.miss(at(3), 3))
            .expect("third miss");
        assert_eq!(away.status, S::Away);
        assert_eq!(
            away.away_reason,
            Some(AwayReason::MissedOffers { count: 3 })
        );
        assert_eq!(
            away.reserve(at(4)).map(|p| p.status),
            Err(PresenceTransitionError {
                from: S::Away,
                event: PresenceEvent::Reserve
            })
        );
        let back = away.set_manually(S::Available, true, at(5)).expect("back");
        assert_eq!((back.missed_in_a_row, back.away_reason), (0, None));
    }

    #[test]
    fn an_answer_ends_a_run_of_misses() {
        let p = available(0)
            .reserve(at(1))
            .and_then(|p| p.miss(at(1), 3))
            .expect("miss");
        let p = p
            .reserve(at(2))
            .and_then(|p| p.decline(at(2)))
            .expect("decline");
        assert_eq!(p.missed_in_a_row, 0);
        let p = p
            .reserve(at(3))
            .and_then(|p| p.miss(at(3), 3))
            .expect("miss");
        let p = p
            .reserve(at(4))
            .and_then(|p| p.accept(at(4)))
            .expect("accept");
        assert_eq!(p.missed_in_a_row, 0);
    }

    type Step = fn(Presence) -> Result<Presence, PresenceTransitionError>;

    #[test]
    fn system_steps_from_the_wrong_status_are_refused() {
        let steps: [(PresenceEvent, Step, S); 7] = [
            (PresenceEvent::Reserve, |p| p.reserve(at(1)), S::Available),
            (PresenceEvent::Accept, |p| p.accept(at(1)), S::Reserved),
            (PresenceEvent::Decline, |p| p.decline(at(1)), S::Reserved),
            (PresenceEvent::Miss, |p| p.miss(at(1), 3), S::Reserved),
            (PresenceEvent::Rescind, |p| p.rescind(at(1)), S::Reserved),
            (PresenceEvent::EndSession, |p| p.end_session(at(1)), S::Busy),
            (
                PresenceEvent::FinishWrapUp,
                |p| p.finish_wrap_up(at(1)),
                S::WrapUp,
            ),
        ];
        for (event, step, from) in steps {
            for status in S::ALL {
                let p = Presence {
                    status,
                    ..Presence::new(at(0))
                };
                let result = step(p);
                if status == from {
                    assert!(result.is_ok(), "{event:?} from {status:?}");
                } else {
                    assert_eq!(
                        result,
                        Err(PresenceTransitionError {
                            from: status,
                            event
                        })
                    );
                }
            }
        }
    }

    #[test]
    fn manual_changes_follow_the_existing_rules() {
        let busy = available(0)
            .reserve(at(1))
            .and_then(|p| p.accept(at(2)))
            .expect("busy");
        assert_eq!(
            busy.set_manually(S::Away, true, at(3)),
            Err(StatusChangeError::InSession)
        );
        assert_eq!(
            Presence::new(at(0)).set_manually(S::Available, false, at(1)),
            Err(StatusChangeError::NoProfile)
        );
        let wrap = busy.end_session(at(5)).expect("wrap-up");
        let early = wrap
            .set_manually(S::Available, true, at(6))
            .expect("cut wrap-up short");
        assert_eq!((early.status, early.idle_since), (S::Available, at(6)));
        assert!(
            early.finish_wrap_up(at(15)).is_err(),
            "the stale wrap-up timer does nothing"
        );
        let same = early
            .set_manually(S::Available, true, at(9))
            .expect("no change");
        assert_eq!(same, early);
        let reserved = early.reserve(at(10)).expect("reserve");
        let left = reserved
            .set_manually(S::Offline, true, at(11))
            .expect("leave reserved");
        assert_eq!((left.status, left.since), (S::Offline, at(11)));
    }
}
