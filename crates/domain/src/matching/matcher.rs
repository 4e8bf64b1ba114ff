//! The matcher: one round of matching over a snapshot, as a pure function.
//!
//! The caller reads a consistent snapshot from the store, asks [`Matcher::plan`], and applies
//! the plan atomically (claiming each interpreter with a conditional update, so that a plan made
//! by another instance on a stale snapshot fails harmlessly instead of double-booking). The plan
//! itself keeps the invariants within one round:
//! - only `queued` requests are offered, so a request has at most one pending offer;
//! - an interpreter chosen for one request counts as `reserved` for the rest of the round, so an
//!   interpreter has at most one pending offer;
//! - requests are visited in queue order ([`super::queue_order`]) and each takes the first
//!   eligible candidate, so a later request never takes an interpreter an earlier waiting one
//!   could have had: that is first in, first out within a priority;
//! - a request that has waited the maximum wait is expired, not offered; if it held a pending
//!   offer, that offer is to be rescinded and its interpreter is free again within this very
//!   round, so nobody waits behind an interpreter who is only nominally reserved.

use chrono::{DateTime, Utc};

use super::{
    Expiry, Explanation, InterpreterSnapshot, MatchingConfig, Plan, PlannedOffer, Request,
    RequestStatus, Snapshot, check, explain, queue_order,
};
use crate::{InterpreterStatus, UserId};

/// Matching with one configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matcher {
    config: MatchingConfig,
}

impl Matcher {
    pub fn new(config: MatchingConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &MatchingConfig {
        &self.config
    }

    /// Decides one round of matching at `now`.
    pub fn plan(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> Plan {
        let mut open: Vec<&Request> = snapshot
            .requests
            .iter()
            .filter(|r| r.status.is_open())
            .collect();
        open.sort_by(|a, b| queue_order(a, b));
        let (overdue, waiting): (Vec<&Request>, Vec<&Request>) = open
            .into_iter()
            .partition(|r| r.is_overdue(now, self.config.max_wait));

        // The working copy of the interpreters: released by expiries first, then reserved one
        // by one as the round hands out offers.
        let mut interpreters = snapshot.interpreters.clone();
        let mut plan = Plan::default();
        for request in overdue {
            let rescind = snapshot
                .pending_offers
                .iter()
                .find(|o| o.request_id == request.id && o.is_pending())
                .copied();
            if let Some(offer) = rescind {
                set_status(&mut interpreters, offer.interpreter_id, |s| {
                    if s == InterpreterStatus::Reserved {
                        InterpreterStatus::Available
                    } else {
                        s
                    }
                });
            }
            plan.expired.push(Expiry {
                request_id: request.id,
                rescind,
            });
        }
        for request in waiting {
            if request.status != RequestStatus::Queued {
                continue;
            }
            // Most waiting requests wait because nobody fits: find that out without building
            // an explanation, which accounts for every interpreter considered.
            let anyone = interpreters
                .iter()
                .any(|i| check(request.id, &request.need, i, &snapshot.history).is_ok());
            if !anyone {
                continue;
            }
            let explanation = explain(
                request,
                &interpreters,
                &snapshot.history,
                self.config.strategy,
                now,
            );
            let Some(chosen) = explanation.chosen else {
                continue;
            };
            set_status(&mut interpreters, chosen, |_| InterpreterStatus::Reserved);
            plan.offers.push(PlannedOffer {
                request_id: request.id,
                interpreter_id: chosen,
                need: request.need,
                created_at: now,
                expires_at: now + self.config.offer_timeout,
                explanation,
            });
        }
        plan
    }

    /// Who would be offered `request` now, and why; for a request that is waiting, the answer to
    /// "why is nobody taking it?".
    pub fn explain(
        &self,
        request: &Request,
        snapshot: &Snapshot,
        now: DateTime<Utc>,
    ) -> Explanation {
        explain(
            request,
            &snapshot.interpreters,
            &snapshot.history,
            self.config.strategy,
            now,
        )
    }
}

/// Changes the status of interpreter `id` in the round's working copy.
fn set_status(
    interpreters: &mut [InterpreterSnapshot],
    id: UserId,
    to: impl Fn(InterpreterStatus) -> InterpreterStatus,
) {
    for i in interpreters.iter_mut().filter(|i| i.id == id) {
        i.status = to(i.status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::{at, interpreter, request, user};
    use crate::matching::{Offer, OfferId, Priority, RequestEvent, Strategy};
    use chrono::TimeDelta;

    fn matcher() -> Matcher {
        Matcher::new(MatchingConfig::default())
    }

    fn offered(n: u128, created: i64) -> Request {
        let r = request(n, created).apply(RequestEvent::Offer);
        r.expect("offer a queued request")
    }

    #[test]
    fn each_interpreter_gets_one_offer_in_queue_order() {
        let mut urgent = request(3, 50);
        urgent.priority = Priority(1);
        let snapshot = Snapshot {
            requests: vec![request(2, 20), request(1, 10), urgent],
            interpreters: vec![interpreter(1, 5), interpreter(2, 0)],
            ..Snapshot::default()
        };
        let plan = matcher().plan(&snapshot, at(60));
        let offers: Vec<_> = plan
            .offers
            .iter()
            .map(|o| (o.request_id, o.interpreter_id))
            .collect();
        // The urgent request first, to the longest idle; then the oldest; the newest waits.
        assert_eq!(offers, [(urgent.id, user(2)), (request(1, 0).id, user(1))]);
        assert_eq!(plan.offers[0].expires_at, at(80));
        assert!(plan.expired.is_empty());
        let second = &plan.offers[1].explanation;
        assert_eq!(second.eligible.len(), 1);
        assert_eq!(second.excluded[0].interpreter_id, user(2));
    }

    #[test]
    fn offered_requests_and_history_are_respected() {
        let offered = offered(1, 0);
        let waiting = request(2, 5);
        let snapshot = Snapshot {
            requests: vec![offered, waiting],
            interpreters: vec![interpreter(1, 0), interpreter(2, 1)],
            history: [(waiting.id, user(1))].into_iter().collect(),
            ..Snapshot::default()
        };
        let plan = matcher().plan(&snapshot, at(10));
        assert_eq!(plan.offers.len(), 1);
        assert_eq!(plan.offers[0].request_id, waiting.id);
        assert_eq!(plan.offers[0].interpreter_id, user(2));
        let offer = plan.offers[0].to_offer(OfferId(uuid::Uuid::from_u128(5)));
        assert!(offer.is_pending());
        assert_eq!(offer.expires_at - offer.created_at, TimeDelta::seconds(20));
    }

    #[test]
    fn requests_past_the_maximum_wait_expire_instead_of_being_offered() {
        let offered = offered(1, 0);
        let snapshot = Snapshot {
            requests: vec![request(3, 100), offered, request(2, 1)],
            interpreters: vec![interpreter(1, 0)],
            ..Snapshot::default()
        };
        let plan = matcher().plan(&snapshot, at(301));
        let expired: Vec<_> = plan.expired.iter().map(|e| e.request_id).collect();
        assert_eq!(expired, [offered.id, request(2, 0).id]);
        assert_eq!(plan.offers.len(), 1);
        assert_eq!(plan.offers[0].request_id, request(3, 0).id);
    }

    #[test]
    fn the_configured_strategy_orders_candidates() {
        let mut fresh = interpreter(2, 50);
        fresh.last_offered_at = None;
        let mut rested = interpreter(1, 0);
        rested.last_offered_at = Some(at(40));
        let snapshot = Snapshot {
            requests: vec![request(1, 60)],
            interpreters: vec![rested, fresh],
            ..Snapshot::default()
        };
        let round_robin = Matcher::new(MatchingConfig {
            strategy: Strategy::RoundRobin,
            ..MatchingConfig::default()
        });
        assert_eq!(
            round_robin.plan(&snapshot, at(61)).offers[0].interpreter_id,
            user(2)
        );
        assert_eq!(
            matcher().plan(&snapshot, at(61)).offers[0].interpreter_id,
            user(1)
        );
        let why = round_robin.explain(&snapshot.requests[0], &snapshot, at(61));
        assert_eq!(why.chosen, Some(user(2)));
    }

    #[test]
    fn an_expiring_request_frees_its_interpreter_in_the_same_round() {
        let old = offered(1, 0);
        let mut holder = interpreter(1, 0);
        holder.status = InterpreterStatus::Reserved;
        let pending = Offer::new(
            OfferId(uuid::Uuid::from_u128(5)),
            &old,
            holder.id,
            at(290),
            TimeDelta::seconds(20),
        );
        let snapshot = Snapshot {
            requests: vec![old, request(2, 200)],
            interpreters: vec![holder],
            history: [(old.id, user(1))].into_iter().collect(),
            pending_offers: vec![pending],
        };
        let plan = matcher().plan(&snapshot, at(300));
        assert_eq!(
            plan.expired,
            [Expiry {
                request_id: old.id,
                rescind: Some(pending)
            }]
        );
        assert_eq!(plan.offers.len(), 1);
        assert_eq!(plan.offers[0].interpreter_id, user(1));
    }
}
