//! Why a request was offered to the interpreter it was offered to.
//!
//! An explanation is taken at the moment of decision and stored with the offer as JSON: the
//! eligible candidates in the order the strategy put them, with the values that put them there;
//! every other interpreter considered, with the rule that excluded them; and the one chosen (the
//! first candidate, or nobody). An operator asked "why did she get it and not me?" can then
//! answer from the record instead of guessing.
//!
//! Which interpreters are "considered" is the caller's choice: passing the interpreters who
//! speak the request's language keeps an explanation short, while still naming everyone who
//! could plausibly have expected the offer.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::eligibility::assess;
use super::{
    Assessment, Candidate, ExcludedInterpreter, InterpreterSnapshot, Need, OfferHistory, Request,
    RequestId, Strategy,
};
use crate::UserId;

/// The record of one matching decision for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub request_id: RequestId,
    pub need: Need,
    pub strategy: Strategy,
    pub decided_at: DateTime<Utc>,
    /// In offer order: the first is the one chosen.
    pub eligible: Vec<Candidate>,
    /// In the order the interpreters were given.
    pub excluded: Vec<ExcludedInterpreter>,
    pub chosen: Option<UserId>,
}

impl Explanation {
    /// The candidate chosen, with its ordering values.
    pub fn chosen_candidate(&self) -> Option<&Candidate> {
        self.eligible.first()
    }

    /// A one-line summary for log lines and consoles.
    pub fn summary(&self) -> String {
        match self.chosen_candidate() {
            Some(c) => format!(
                "offered to {} by {}, first of {} eligible; {} excluded",
                c.interpreter_id,
                self.strategy,
                self.eligible.len(),
                self.excluded.len()
            ),
            None => format!("no eligible interpreter; {} excluded", self.excluded.len()),
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
    for interpreter in interpreters {
        match assess(request.id, &request.need, interpreter, history, strategy) {
            Assessment::Eligible(c) => eligible.push(c),
            Assessment::Excluded(x) => excluded.push(x),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InterpreterStatus;
    use crate::matching::fixtures::{at, interpreter, lang, request, user};
    use crate::matching::{Exclusion, OrderingKey};

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
}
