//! Why a request was offered to the interpreter it was offered to.
//!
//! An explanation is taken at the moment of decision and stored with the offer as JSON: the
//! eligible candidates in the order the strategy put them, with the values that put them there;
//! every other interpreter considered who was online, with the rule that excluded them; how
//! many offline interpreters were excluded, per rule; and the one chosen (the first candidate,
//! or nobody). An operator asked "why did she get it and not me?" can then answer from the
//! record instead of guessing.
//!
//! Which interpreters are "considered" is the caller's choice: matching passes every interpreter
//! who lists the request's language, whatever their status. Of those, the offline ones are only
//! counted: they could not have been offered anything, nobody waiting at a desk asks about them,
//! and a language with thousands of registered interpreters would otherwise write thousands of
//! names into every offer's record. "Online" is every status but `offline`: `away` included,
//! because an away interpreter is still signed in (the presence sweep sets `offline` those with
//! no connection) and may well ask why someone else got the call. The record's size is thus
//! bounded by the interpreters online, not by those registered.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::eligibility::assess;
use super::{
    Assessment, Candidate, ExcludedInterpreter, Exclusion, InterpreterSnapshot, Need, OfferHistory,
    Request, RequestId, Strategy,
};
use crate::{InterpreterStatus, UserId};

/// The record of one matching decision for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub request_id: RequestId,
    pub need: Need,
    pub strategy: Strategy,
    pub decided_at: DateTime<Utc>,
    /// In offer order: the first is the one chosen.
    pub eligible: Vec<Candidate>,
    /// The online interpreters excluded, in the order the interpreters were given.
    pub excluded: Vec<ExcludedInterpreter>,
    /// The offline interpreters excluded, not named: how many per rule (see
    /// [`Exclusion::label`]), e.g. `{"not_available:offline": 4812}`. Empty when none were.
    pub excluded_counts: BTreeMap<String, u32>,
    pub chosen: Option<UserId>,
}

/// Whether an excluded interpreter is named in the record, rather than only counted.
fn named_when_excluded(status: InterpreterStatus) -> bool {
    status != InterpreterStatus::Offline
}

impl Exclusion {
    /// The rule as one word, with the status for [`Exclusion::NotAvailable`]: the keys of
    /// [`Explanation::excluded_counts`].
    pub fn label(&self) -> String {
        match self {
            Exclusion::NotAvailable(status) => format!("not_available:{}", status.as_str()),
            Exclusion::LanguageMissing => "language_missing".to_owned(),
            Exclusion::SpecializationMissing => "specialization_missing".to_owned(),
            Exclusion::ModalityMissing => "modality_missing".to_owned(),
            Exclusion::AlreadyOffered => "already_offered".to_owned(),
        }
    }
}

impl Explanation {
    /// The candidate chosen, with its ordering values.
    pub fn chosen_candidate(&self) -> Option<&Candidate> {
        self.eligible.first()
    }

    /// Every interpreter excluded, named or counted.
    pub fn excluded_total(&self) -> u64 {
        self.excluded.len() as u64
            + self
                .excluded_counts
                .values()
                .map(|n| u64::from(*n))
                .sum::<u64>()
    }

    /// A one-line summary for log lines and consoles.
    pub fn summary(&self) -> String {
        match self.chosen_candidate() {
            Some(c) => format!(
                "offered to {} by {}, first of {} eligible; {} excluded",
                c.interpreter_id,
                self.strategy,
                self.eligible.len(),
                self.excluded_total()
            ),
            None => format!(
                "no eligible interpreter; {} excluded",
                self.excluded_total()
            ),
        }
    }
}

/// Decides, and records why, who among `interpreters` would be offered `request` now.
pub fn explain(
    request: &Request,
    interpreters: &[InterpreterSnapshot],
    history: &OfferHistory,
    strategy: Strategy,
    now: DateTime<Utc>,
) -> Explanation {
    let mut eligible = Vec::new();
    let mut excluded = Vec::new();
    let mut excluded_counts: BTreeMap<String, u32> = BTreeMap::new();
    for interpreter in interpreters {
        match assess(request.id, &request.need, interpreter, history, strategy) {
            Assessment::Eligible(c) => eligible.push(c),
            Assessment::Excluded(x) if named_when_excluded(interpreter.status) => excluded.push(x),
            Assessment::Excluded(x) => {
                let n = excluded_counts.entry(x.rule.label()).or_default();
                *n = n.saturating_add(1);
            }
        }
    }
    strategy.rank(&mut eligible);
    Explanation {
        request_id: request.id,
        need: request.need,
        strategy,
        decided_at: now,
        chosen: eligible.first().map(|c| c.interpreter_id),
        eligible,
        excluded,
        excluded_counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InterpreterStatus;
    use crate::matching::OrderingKey;
    use crate::matching::fixtures::{at, interpreter, lang, request, user};
    use proptest::strategy::Strategy as Strategy_;

    #[test]
    fn an_explanation_accounts_for_every_interpreter_considered() {
        let r = request(1, 0);
        let mut pool = vec![
            interpreter(1, 20),
            interpreter(2, 10),
            interpreter(3, 5),
            interpreter(4, 1),
        ];
        pool[0].status = InterpreterStatus::Busy;
        pool[3].profile = crate::matching::fixtures::profile(
            &["fr"],
            &[crate::Specialization::General],
            &[crate::Modality::Video],
        );
        let history: OfferHistory = [(r.id, user(3))].into_iter().collect();
        let e = explain(&r, &pool, &history, Strategy::LongestIdleFirst, at(30));

        assert_eq!(e.chosen, Some(user(2)));
        assert_eq!(
            e.chosen_candidate().map(|c| c.ordering),
            Some(OrderingKey::LongestIdle {
                idle_since: at(10),
                declines_today: 0
            })
        );
        let excluded: Vec<_> = e
            .excluded
            .iter()
            .map(|x| (x.interpreter_id, x.rule))
            .collect();
        assert_eq!(
            excluded,
            [
                (user(1), Exclusion::NotAvailable(InterpreterStatus::Busy)),
                (user(3), Exclusion::AlreadyOffered),
                (user(4), Exclusion::LanguageMissing),
            ]
        );
        assert_eq!(e.need.language, lang("es"));
        assert_eq!(e.decided_at, at(30));
        assert!(e.summary().starts_with("offered to"));
    }

    #[test]
    fn with_nobody_eligible_nobody_is_chosen() {
        let r = request(1, 0);
        let mut busy = interpreter(1, 0);
        busy.status = InterpreterStatus::Reserved;
        let e = explain(
            &r,
            &[busy],
            &OfferHistory::new(),
            Strategy::RoundRobin,
            at(1),
        );
        assert_eq!(e.chosen, None);
        assert!(e.eligible.is_empty());
        assert_eq!(e.summary(), "no eligible interpreter; 1 excluded");
    }

    #[test]
    fn offline_interpreters_are_counted_not_named() {
        let r = request(1, 0);
        let mut pool: Vec<_> = (1..=1_000).map(|n| interpreter(n, 0)).collect();
        for i in &mut pool {
            i.status = InterpreterStatus::Offline;
        }
        let mut away = interpreter(2_001, 0);
        away.status = InterpreterStatus::Away;
        pool.extend([interpreter(2_000, 5), away]);
        let e = explain(
            &r,
            &pool,
            &OfferHistory::new(),
            Strategy::LongestIdleFirst,
            at(30),
        );

        assert_eq!(e.chosen, Some(user(2_000)));
        assert_eq!(
            e.excluded,
            [ExcludedInterpreter {
                interpreter_id: user(2_001),
                rule: Exclusion::NotAvailable(InterpreterStatus::Away),
            }]
        );
        assert_eq!(
            e.excluded_counts,
            [("not_available:offline".to_owned(), 1_000)]
                .into_iter()
                .collect()
        );
        assert_eq!(e.excluded_total(), 1_001);
        assert!(e.summary().ends_with("1001 excluded"), "{}", e.summary());

        // The stored shape: one key for the thousand, no name of theirs.
        let json = serde_json::to_value(&e).expect("an explanation serializes");
        assert_eq!(json["excluded_counts"]["not_available:offline"], 1_000);
        assert_eq!(json["excluded"].as_array().map(Vec::len), Some(1));
        assert!(!json.to_string().contains(&user(500).to_string()));
    }

    #[test]
    fn every_rule_has_its_own_label() {
        let mut labels: Vec<String> = InterpreterStatus::ALL
            .into_iter()
            .map(|s| Exclusion::NotAvailable(s).label())
            .chain(
                [
                    Exclusion::LanguageMissing,
                    Exclusion::SpecializationMissing,
                    Exclusion::ModalityMissing,
                    Exclusion::AlreadyOffered,
                ]
                .iter()
                .map(Exclusion::label),
            )
            .collect();
        assert_eq!(labels[2], "not_available:offline");
        let all = labels.len();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), all);
    }

    fn any_status() -> impl Strategy_<Value = InterpreterStatus> {
        proptest::sample::select(InterpreterStatus::ALL.to_vec())
    }

    proptest::proptest! {
        /// Whatever the pool, every interpreter is accounted for once: eligible, named among the
        /// excluded when online, or counted when offline; and the named ones are at most the
        /// online ones, so the record grows with who is online, not with who is registered.
        #[test]
        fn everyone_is_accounted_for_and_only_the_online_are_named(
            pool in proptest::collection::vec((any_status(), proptest::bool::ANY, proptest::bool::ANY, 0i64..100), 0..60),
        ) {
            let r = request(1, 0);
            let interpreters: Vec<_> = pool
                .iter()
                .enumerate()
                .map(|(n, (status, speaks, _, idle))| {
                    let mut i = interpreter(n as u128 + 1, *idle);
                    i.status = *status;
                    if !speaks {
                        i.profile = crate::matching::fixtures::profile(
                            &["fr"],
                            &[crate::Specialization::General],
                            &[crate::Modality::Video],
                        );
                    }
                    i
                })
                .collect();
            let history: OfferHistory = pool
                .iter()
                .enumerate()
                .filter(|(_, (_, _, offered, _))| *offered)
                .map(|(n, _)| (r.id, user(n as u128 + 1)))
                .collect();
            let e = explain(&r, &interpreters, &history, Strategy::LongestIdleFirst, at(200));

            let offline = pool.iter().filter(|(s, ..)| *s == InterpreterStatus::Offline).count();
            proptest::prop_assert_eq!(e.eligible.len() as u64 + e.excluded_total(), pool.len() as u64);
            proptest::prop_assert_eq!(e.excluded.len() + e.eligible.len(), pool.len() - offline);
            proptest::prop_assert_eq!(
                e.excluded_counts.values().map(|n| *n as usize).sum::<usize>(),
                offline
            );
            proptest::prop_assert!(e.excluded_counts.len() <= 1);
            for x in &e.excluded {
                let status = interpreters
                    .iter()
                    .find(|i| i.id == x.interpreter_id)
                    .map(|i| i.status);
                proptest::prop_assert_ne!(status, Some(InterpreterStatus::Offline));
            }
            proptest::prop_assert_eq!(e.chosen, e.eligible.first().map(|c| c.interpreter_id));
        }
    }
}
