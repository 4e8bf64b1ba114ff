//! The offer timeout: late answers, the timer's settlement, the race between the two, and
//! interpreters set away after repeated misses.

use std::sync::Arc;

use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::{AwayReason, OfferError, OfferStatus, RequestStatus, SessionId};
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome};
use dragoman_ports::{MatchingStore, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn late_answers_are_refused(store: Arc<dyn Store>, matching: Arc<dyn MatchingStore>) {
    let c = client(&*store, "nurse").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let request = queued(&*matching, c, "es", 0).await;
    let offer = offered(&*matching, &request, i, 10).await;

    // At the deadline the timer may not have run yet: the answer is still refused.
    assert_eq!(
        matching
            .accept_offer(offer.id, i, SessionId(Uuid::now_v7()), at(30))
            .await
            .expect("accept"),
        AcceptOutcome::Refused(OfferError::PastDeadline)
    );
    assert_eq!(
        matching
            .decline_offer(offer.id, i, at(31))
            .await
            .expect("decline"),
        DeclineOutcome::Refused(OfferError::PastDeadline)
    );
    let stored = matching.offer(offer.id).await.expect("read").expect("kept");
    assert_eq!(
        stored.status,
        OfferStatus::Pending,
        "a refusal changes nothing"
    );
    assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Reserved);

    assert_eq!(
        matching
            .expire_offers(at(30), 3)
            .await
            .expect("expire")
            .len(),
        1
    );
    assert_eq!(
        matching
            .accept_offer(offer.id, i, SessionId(Uuid::now_v7()), at(31))
            .await
            .expect("accept"),
        AcceptOutcome::Refused(OfferError::NotPending(OfferStatus::Expired))
    );
}
pub async fn accept_and_expiry_race_has_one_winner(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    for round in 0..4i64 {
        let c = client(&*store, &format!("client{round}")).await;
        let name = format!("interpreter{round}");
        let i = available_interpreter(&*store, &*matching, &name, &["es"], 0).await;
        let request = queued(&*matching, c, "es", round * 100).await;
        let offer = offered(&*matching, &request, i, round * 100 + 1).await;
        let deadline = round * 100 + 21;

        let accept = {
            let matching = matching.clone();
            tokio::spawn(async move {
                matching
                    .accept_offer(offer.id, i, SessionId(Uuid::now_v7()), at(deadline - 1))
                    .await
            })
        };
        let expire = {
            let matching = matching.clone();
            tokio::spawn(async move { matching.expire_offers(at(deadline), 3).await })
        };
        let accepted = accept.await.expect("the task runs").expect("accept");
        let expired = expire.await.expect("the task runs").expect("expire");

        let stored = matching.offer(offer.id).await.expect("read").expect("kept");
        let record = matching
            .request(request.id)
            .await
            .expect("read")
            .expect("kept");
        match (&accepted, expired.as_slice()) {
            (AcceptOutcome::Accepted { .. }, []) => {
                assert_eq!(stored.status, OfferStatus::Accepted);
                assert_eq!(record.request.status, RequestStatus::Matched);
                assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Busy);
            }
            (AcceptOutcome::Refused(OfferError::NotPending(OfferStatus::Expired)), [e]) => {
                assert_eq!(e.offer.id, offer.id);
                assert_eq!(stored.status, OfferStatus::Expired);
                assert_eq!(record.request.status, RequestStatus::Queued);
                assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Available);
            }
            other => panic!("exactly one of accept and expiry must win, got {other:?}"),
        }
    }
}
pub async fn expired_offers_release_and_repeated_misses_set_away(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    for n in 1..=3i64 {
        let c = client(&*store, &format!("client{n}")).await;
        let request = queued(&*matching, c, "es", n * 100).await;
        let offer = offered(&*matching, &request, i, n * 100 + 1).await;
        let deadline = n * 100 + 21;
        assert!(
            matching
                .expire_offers(at(deadline - 1), 3)
                .await
                .expect("expire")
                .is_empty(),
            "an offer is not settled before its deadline"
        );
        let expired = matching
            .expire_offers(at(deadline), 3)
            .await
            .expect("expire");
        assert_eq!(expired.len(), 1, "{expired:?}");
        let e = &expired[0];
        assert_eq!(
            (e.offer.id, e.offer.status),
            (offer.id, OfferStatus::Expired)
        );
        assert_eq!(e.request.request.id, request.id);
        assert_eq!(e.request.request.status, RequestStatus::Queued);
        assert_eq!(e.went_away, n == 3);

        let stored = matching.offer(offer.id).await.expect("read").expect("kept");
        assert_eq!(stored.status, OfferStatus::Expired);
        let presence = matching
            .presence(i)
            .await
            .expect("presence")
            .expect("an interpreter")
            .presence;
        assert_eq!(presence.since, at(deadline));
        if n < 3 {
            assert_eq!(presence.status, InterpreterStatus::Available);
            assert_eq!(presence.missed_in_a_row, n as u32);
            assert_eq!(presence.idle_since, at(deadline));
        } else {
            assert_eq!(presence.status, InterpreterStatus::Away);
            assert_eq!(
                presence.away_reason,
                Some(AwayReason::MissedOffers { count: 3 })
            );
        }
    }
    assert!(
        matching
            .expire_offers(at(1_000), 3)
            .await
            .expect("expire")
            .is_empty()
    );
}
