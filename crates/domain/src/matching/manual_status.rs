//! The status changes an interpreter asks for, and how they meet the ones matching makes.
//!
//! The interpreter may ask for `available`, `away` or `offline` at any time except during a
//! session, by [`InterpreterStatus::manual_change`]'s rules. Leaving `reserved` that way means the
//! pending offer must be rescinded by the caller (reason `cancelled`) and its request queued
//! again; [`Presence::holds_offer`] says when. Leaving `wrap_up` cuts the pause short: the
//! wrap-up timer then finds the interpreter elsewhere and [`Presence::finish_wrap_up`] refuses,
//! which the timer treats as nothing to do. Any real change starts a fresh run of misses and
//! clears the away reason, because the interpreter has shown they are at the desk.

use chrono::{DateTime, Utc};

use super::Presence;
use crate::{InterpreterStatus, StatusChangeError};

impl Presence {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::AwayReason;
    use crate::matching::fixtures::at;
    use InterpreterStatus as S;

    fn available(at_s: i64) -> Presence {
        Presence::new(at(0))
            .set_manually(S::Available, true, at(at_s))
            .expect("an interpreter with a profile becomes available")
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

    #[test]
    fn coming_back_clears_the_away_reason_and_the_misses() {
        let away = available(0)
            .reserve(at(1))
            .and_then(|p| p.miss(at(21), 1))
            .expect("one miss is enough here");
        assert_eq!(
            away.away_reason,
            Some(AwayReason::MissedOffers { count: 1 })
        );
        let still = away.set_manually(S::Away, true, at(30)).expect("no change");
        assert_eq!(still, away);
        let back = away.set_manually(S::Available, true, at(40)).expect("back");
        assert_eq!((back.status, back.idle_since), (S::Available, at(40)));
        assert_eq!((back.missed_in_a_row, back.away_reason), (0, None));
    }
}
