//! An interpreter's status as matching drives it, beside the changes the interpreter asks for.
//!
//! ```text
//!   available ──reserve──▶ reserved ──accept──▶ busy ──end session──▶ wrap_up ──finish──▶ available
//!       ▲                     │
//!       └─decline|miss|rescind┘   (the Nth miss in a row leads to away instead)
//! ```
//!
//! The interpreter's own changes (`available`, `away`, `offline`) are in [`super::manual_status`].
//!
//! `idle_since` is what longest-idle-first orders by: when the interpreter last became
//! `available`. A decline or a miss counts as becoming available again, so that whoever just
//! turned an offer down or let it lapse goes behind those who have been waiting; a rescind does
//! not, because the offer vanished through no act of the interpreter's and they keep their place.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::InterpreterStatus;

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

    pub(super) fn moved(self, status: InterpreterStatus, now: DateTime<Utc>) -> Self {
        Self {
            status,
            since: now,
            away_reason: None,
            ..self
        }
    }

    pub(super) fn became_available(self, now: DateTime<Utc>) -> Self {
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

    /// An offer made at `t` and what became of it.
    fn offered(
        p: Presence,
        t: i64,
        outcome: impl FnOnce(Presence) -> Result<Presence, PresenceTransitionError>,
    ) -> Presence {
        p.reserve(at(t))
            .and_then(outcome)
            .expect("an offer and its outcome")
    }

    #[test]
    fn the_nth_miss_in_a_row_sets_away_with_the_reason() {
        let mut p = available(0);
        for n in 1..=2 {
            p = offered(p, n, |p| p.miss(at(n), 3));
            assert_eq!((p.status, p.missed_in_a_row), (S::Available, n as u32));
        }
        let away = offered(p, 3, |p| p.miss(at(3), 3));
        assert_eq!(away.status, S::Away);
        assert_eq!(
            away.away_reason,
            Some(AwayReason::MissedOffers { count: 3 })
        );
        let refused = PresenceTransitionError {
            from: S::Away,
            event: PresenceEvent::Reserve,
        };
        assert_eq!(away.reserve(at(4)), Err(refused));
    }

    #[test]
    fn an_answer_ends_a_run_of_misses() {
        let p = offered(available(0), 1, |p| p.miss(at(1), 3));
        let p = offered(p, 2, |p| p.decline(at(2)));
        assert_eq!(p.missed_in_a_row, 0);
        let p = offered(p, 3, |p| p.miss(at(3), 3));
        let p = offered(p, 4, |p| p.accept(at(4)));
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
}
