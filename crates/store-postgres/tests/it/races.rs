//! Races on a real server between instances: claims, and every way one pending offer can end.
//!
//! Three instances share a database, one directly and two through PgBouncer in transaction
//! pooling. Every race must have exactly one winner and leave the invariants of API.md whole.

use std::sync::Arc;

use dragoman_conformance::matching::fixtures::*;
use dragoman_domain::matching::{OfferStatus, SessionId};
use dragoman_domain::{InterpreterStatus, UserId};
use dragoman_ports::matching::{AcceptOutcome, CancelOutcome, DeclineOutcome, SetStatusOutcome};
use uuid::Uuid;

use crate::common::{Fleet, Rng};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_racing_across_instances_pair_everyone_once() {
    let fleet = Fleet::new(1, 2).await;
    let (store, matching) = (fleet.store(0), fleet.matching(0));
    let mut interpreters = Vec::new();
    let mut requests = Vec::new();
    for n in 0..8 {
        interpreters
            .push(available_interpreter(&*store, &*matching, &format!("i{n}"), &["es"], 0).await);
        let c = client(&*store, &format!("c{n}")).await;
        requests.push(queued(&*matching, c, "es", n).await);
    }
    // Eight tasks, each trying all 64 pairs in an order of its own. Nothing is ever released,
    // so a pair left unmatched at the end would have been free at every attempt: every request
    // and every interpreter must end up in exactly one offer.
    let tasks: Vec<_> = (0..8u64)
        .map(|t| {
            let matching = fleet.matching(t as usize);
            let (requests, interpreters) = (requests.clone(), interpreters.clone());
            tokio::spawn(async move {
                let mut rng = Rng::new(t + 1);
                let mut pairs: Vec<(usize, usize)> =
                    (0..8).flat_map(|r| (0..8).map(move |i| (r, i))).collect();
                for k in (1..pairs.len()).rev() {
                    pairs.swap(k, rng.below(k as u64 + 1) as usize);
                }
                let mut won = 0;
                for (r, i) in pairs {
                    let offer = new_offer(&requests[r], interpreters[i], 10);
                    let why = explanation(&requests[r], interpreters[i], 10);
                    if matching
                        .apply_offer(&offer, &why)
                        .await
                        .expect("apply_offer")
                    {
                        won += 1;
                    }
                }
                won
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += t.await.expect("the task runs");
    }
    assert_eq!(won, 8);
    for &i in &interpreters {
        assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Reserved);
        assert_eq!(matching.pending_offers(i).await.expect("pending").len(), 1);
    }
    assert_eq!(fleet.violations().await, Vec::<String>::new());
}

/// Who ended the offer, by the outcome each contender reported.
#[derive(Debug, Default)]
struct Winners(Vec<&'static str>);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_way_an_offer_ends_racing_at_once_has_one_winner() {
    let fleet = Fleet::new(1, 2).await;
    let (store, matching) = (fleet.store(0), fleet.matching(0));
    let mut tally = std::collections::BTreeMap::new();
    for round in 0..24i64 {
        let t0 = round * 1_000;
        let c = client(&*store, &format!("c{round}")).await;
        let i = available_interpreter(&*store, &*matching, &format!("i{round}"), &["es"], t0).await;
        let request = queued(&*matching, c, "es", t0).await;
        // The offer's deadline is the request's expiry: every timer is due at once.
        let offer = offered(&*matching, &request, i, t0 + 280).await;
        let deadline = at(t0 + 300);
        let just_before = at(t0 + 299);
        let m = |n: usize| fleet.matching(n + round as usize);

        let accept = tokio::spawn({
            let m = m(0);
            async move {
                m.accept_offer(offer.id, i, SessionId(Uuid::now_v7()), just_before)
                    .await
            }
        });
        let decline = tokio::spawn({
            let m = m(1);
            async move { m.decline_offer(offer.id, i, just_before).await }
        });
        let expire = tokio::spawn({
            let m = m(2);
            async move { m.expire_offers(deadline, 3).await }
        });
        let cancel = tokio::spawn({
            let m = m(3);
            async move { m.cancel_request(request.id, c, just_before).await }
        });
        let leave = tokio::spawn({
            let m = m(4);
            async move {
                m.set_status(i, InterpreterStatus::Offline, just_before)
                    .await
            }
        });
        let overdue = tokio::spawn({
            let m = m(5);
            async move { m.expire_requests(deadline).await }
        });

        let mut winners = Winners::default();
        if let AcceptOutcome::Accepted { .. } = accept.await.expect("runs").expect("accept") {
            winners.0.push("accepted");
        }
        if let DeclineOutcome::Declined { .. } = decline.await.expect("runs").expect("decline") {
            winners.0.push("declined");
        }
        if expire
            .await
            .expect("runs")
            .expect("expire")
            .iter()
            .any(|e| e.offer.id == offer.id)
        {
            winners.0.push("expired");
        }
        if let CancelOutcome::Cancelled {
            rescinded: Some(_), ..
        } = cancel.await.expect("runs").expect("cancel")
        {
            winners.0.push("rescinded by cancel");
        }
        match leave.await.expect("runs").expect("set_status") {
            SetStatusOutcome::Changed {
                rescinded: Some(_), ..
            } => winners.0.push("rescinded by leaving"),
            SetStatusOutcome::Changed { .. } | SetStatusOutcome::Refused(_) => {}
            SetStatusOutcome::NotFound => panic!("the interpreter exists"),
        }
        if overdue
            .await
            .expect("runs")
            .expect("expire requests")
            .iter()
            .any(|e| e.rescinded.is_some_and(|o| o.id == offer.id))
        {
            winners.0.push("rescinded by expiry");
        }
        assert_eq!(winners.0.len(), 1, "round {round}: {:?}", winners.0);
        let stored = matching.offer(offer.id).await.expect("read").expect("kept");
        let expected = match winners.0[0] {
            "accepted" => OfferStatus::Accepted,
            "declined" => OfferStatus::Declined,
            "expired" => OfferStatus::Expired,
            _ => OfferStatus::Rescinded,
        };
        assert_eq!(stored.status, expected, "round {round}");
        *tally.entry(winners.0[0]).or_insert(0) += 1;
        assert_eq!(
            fleet.violations().await,
            Vec::<String>::new(),
            "round {round}"
        );
        release(&fleet, i, t0 + 400).await;
    }
    eprintln!("winners over 24 rounds: {tally:?}");
}

/// Ends whatever the interpreter is in, so the next round starts clean.
async fn release(fleet: &Fleet, i: UserId, t: i64) {
    let matching: Arc<dyn dragoman_ports::MatchingStore> = fleet.matching(0);
    for s in matching.sessions_of(i, None, 10).await.expect("sessions") {
        if s.is_open() {
            ended(&*matching, &s, i, t).await;
        }
    }
}
