//! Who may be offered a request: the hard constraints of matching.
//!
//! These rules never relax, however long a request waits: a Spanish medical video request is
//! never offered to someone without Spanish, without medical, or without video, because a wrong
//! interpreter at a bedside is worse than none. An interpreter is also never offered the same
//! request twice: whoever declined it or let it expire has answered already, and asking again
//! would only delay the client.
//!
//! For every interpreter considered the answer is either a [`Candidate`] (with the values the
//! strategy orders by) or the one [`Exclusion`] that ruled them out, so that an explanation can
//! account for everyone. Rules are checked in a fixed order (status, language, specialization,
//! modality, history) and the first that fails is reported.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{Candidate, Need, RequestId, Strategy};
use crate::{InterpreterStatus, Profile, UserId};

/// What matching needs to know about one interpreter at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterSnapshot {
    pub id: UserId,
    pub status: InterpreterStatus,
    pub profile: Profile,
    /// When the interpreter last became `available` (see [`super::Presence::idle_since`]).
    pub idle_since: DateTime<Utc>,
    /// Offers declined since the start of the interpreter's day; a tie-break, so that someone
    /// who keeps saying no waits behind someone equally rested who does not.
    pub declines_today: u32,
    /// Time spent in sessions since the start of the day.
    pub talk_time_today: TimeDelta,
    /// When the interpreter was last offered any request, if ever.
    pub last_offered_at: Option<DateTime<Utc>>,
}

/// The rule that kept an interpreter from being offered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "rule", content = "status", rename_all = "snake_case")]
pub enum Exclusion {
    /// Not `available`: away, offline, holding another offer, in a session or in wrap-up.
    NotAvailable(InterpreterStatus),
    LanguageMissing,
    SpecializationMissing,
    ModalityMissing,
    /// Already offered this request (and declined it, let it expire, or had it rescinded).
    AlreadyOffered,
}

/// Every (request, interpreter) pair ever offered, whatever became of the offer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferHistory(HashSet<(RequestId, UserId)>);

impl OfferHistory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&mut self, request: RequestId, interpreter: UserId) {
        self.0.insert((request, interpreter));
    }

    pub fn contains(&self, request: RequestId, interpreter: UserId) -> bool {
        self.0.contains(&(request, interpreter))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(RequestId, UserId)> for OfferHistory {
    fn from_iter<I: IntoIterator<Item = (RequestId, UserId)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// An interpreter ruled out, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExcludedInterpreter {
    pub interpreter_id: UserId,
    pub rule: Exclusion,
}

/// The verdict on one interpreter for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assessment {
    Eligible(Candidate),
    Excluded(ExcludedInterpreter),
}

/// Whether the profile covers what the request needs, whatever the interpreter's status.
///
/// Kept apart from [`check`] because it is also the test a match must pass after the fact.
pub fn covers(profile: &Profile, need: &Need) -> Result<(), Exclusion> {
    if !profile.speaks(need.language) {
        return Err(Exclusion::LanguageMissing);
    }
    if !profile.specializations.contains(need.specialization) {
        return Err(Exclusion::SpecializationMissing);
    }
    if !profile.modalities.contains(need.modality) {
        return Err(Exclusion::ModalityMissing);
    }
    Ok(())
}

/// Applies every hard constraint to one interpreter for one request.
pub fn check(
    request: RequestId,
    need: &Need,
    interpreter: &InterpreterSnapshot,
    history: &OfferHistory,
) -> Result<(), Exclusion> {
    if interpreter.status != InterpreterStatus::Available {
        return Err(Exclusion::NotAvailable(interpreter.status));
    }
    covers(&interpreter.profile, need)?;
    if history.contains(request, interpreter.id) {
        return Err(Exclusion::AlreadyOffered);
    }
    Ok(())
}

/// The verdict on one interpreter, with the ordering values when eligible.
pub fn assess(
    request: RequestId,
    need: &Need,
    interpreter: &InterpreterSnapshot,
    history: &OfferHistory,
    strategy: Strategy,
) -> Assessment {
    match check(request, need, interpreter, history) {
        Ok(()) => Assessment::Eligible(Candidate {
            interpreter_id: interpreter.id,
            ordering: strategy.key(interpreter),
        }),
        Err(rule) => Assessment::Excluded(ExcludedInterpreter {
            interpreter_id: interpreter.id,
            rule,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::{interpreter, need, profile, request_id};
    use crate::{Modality as M, Specialization as Sp};

    fn medical_es_audio() -> Need {
        need("es", Sp::Medical, M::Audio)
    }

    #[test]
    fn each_hard_constraint_excludes_with_its_own_rule() {
        let r = request_id(1);
        let none = OfferHistory::new();
        let mut i = interpreter(7, 0);
        i.profile = profile(&["fr", "es"], &[Sp::General, Sp::Medical], &[M::Audio]);
        assert_eq!(check(r, &medical_es_audio(), &i, &none), Ok(()));

        let cases = [
            (
                need("de", Sp::Medical, M::Audio),
                Exclusion::LanguageMissing,
            ),
            (
                need("es", Sp::Legal, M::Audio),
                Exclusion::SpecializationMissing,
            ),
            (
                need("es", Sp::Medical, M::Video),
                Exclusion::ModalityMissing,
            ),
        ];
        for (n, rule) in cases {
            assert_eq!(check(r, &n, &i, &none), Err(rule));
        }
        let history: OfferHistory = [(r, i.id)].into_iter().collect();
        assert_eq!(
            check(r, &medical_es_audio(), &i, &history),
            Err(Exclusion::AlreadyOffered)
        );
        assert_eq!(
            check(request_id(2), &medical_es_audio(), &i, &history),
            Ok(())
        );
    }

    #[test]
    fn only_available_interpreters_are_eligible_and_status_is_checked_first() {
        let r = request_id(1);
        for status in InterpreterStatus::ALL {
            let mut i = interpreter(7, 0);
            i.status = status;
            let wrong_language = need("de", Sp::General, M::Video);
            let expected = if status == InterpreterStatus::Available {
                Err(Exclusion::LanguageMissing)
            } else {
                Err(Exclusion::NotAvailable(status))
            };
            assert_eq!(
                check(r, &wrong_language, &i, &OfferHistory::new()),
                expected
            );
        }
    }

    #[test]
    fn an_assessment_carries_the_ordering_values_or_the_rule() {
        let r = request_id(1);
        let i = interpreter(7, 3);
        let es = need("es", Sp::General, M::Video);
        assert_eq!(
            assess(r, &es, &i, &OfferHistory::new(), Strategy::LongestIdleFirst),
            Assessment::Eligible(Candidate {
                interpreter_id: i.id,
                ordering: Strategy::LongestIdleFirst.key(&i),
            })
        );
        let history: OfferHistory = [(r, i.id)].into_iter().collect();
        assert_eq!(history.len(), 1);
        assert_eq!(
            assess(r, &es, &i, &history, Strategy::RoundRobin),
            Assessment::Excluded(ExcludedInterpreter {
                interpreter_id: i.id,
                rule: Exclusion::AlreadyOffered,
            })
        );
    }
}
