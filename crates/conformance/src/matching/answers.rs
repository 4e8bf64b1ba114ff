//! Answers to offers: accept opens a session, decline sends the request to the next candidate.

use std::sync::Arc;

use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::{
    OfferError, OfferId, OfferStatus, RequestStatus, SessionId, SessionPhase,
};
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome};
use dragoman_ports::{MatchingStore, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn accept_opens_a_session(store: Arc<dyn Store>, matching: Arc<dyn MatchingStore>) {
    let c = client(&*store, "nurse").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let request = queued(&*matching, c, "es", 0).await;
    let offer = offered(&*matching, &request, i, 10).await;
    let session_id = SessionId(Uuid::now_v7());

    let not_found = [
        matching.accept_offer(offer.id, j, session_id, at(12)).await,
        matching
            .accept_offer(OfferId(Uuid::now_v7()), i, session_id, at(12))
            .await,
    ];
    for outcome in not_found {
        assert_eq!(outcome.expect("accept"), AcceptOutcome::NotFound);
    }
    assert_eq!(matching.session(session_id).await.expect("read"), None);

    let session = match matching
        .accept_offer(offer.id, i, session_id, at(15))
        .await
        .expect("accept")
    {
        AcceptOutcome::Accepted { session } => session,
        other => panic!("expected the offer to be accepted, got {other:?}"),
    };
    assert_eq!(session.id, session_id);
    assert_eq!(session.request_id, request.id);
    assert_eq!((session.client_id, session.interpreter_id), (c, i));
    assert_eq!(session.need, request.need);
    assert_eq!(session.started_at, at(15));
    assert_eq!(session.match_time_ms, 15_000);
    assert_eq!(session.phase, SessionPhase::Open);
    assert_eq!(
        matching.session(session_id).await.expect("read"),
        Some(session)
    );

    let record = matching
        .request(request.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(record.request.status, RequestStatus::Matched);
    assert_eq!(record.session_id, Some(session_id));
    let stored = matching.offer(offer.id).await.expect("read").expect("kept");
    assert_eq!(stored.status, OfferStatus::Accepted);
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(
        (presence.status, presence.since),
        (InterpreterStatus::Busy, at(15))
    );
    assert!(
        matching
            .pending_offers(i)
            .await
            .expect("pending")
            .is_empty()
    );

    let already = OfferError::NotPending(OfferStatus::Accepted);
    assert_eq!(
        matching
            .accept_offer(offer.id, i, SessionId(Uuid::now_v7()), at(16))
            .await
            .expect("accept"),
        AcceptOutcome::Refused(already)
    );
    assert_eq!(
        matching
            .decline_offer(offer.id, i, at(16))
            .await
            .expect("decline"),
        DeclineOutcome::Refused(already)
    );
}
pub async fn decline_requeues_and_is_never_offered_again(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let request = queued(&*matching, c, "es", 0).await;
    let offer = offered(&*matching, &request, i, 10).await;

    let not_found = [
        matching.decline_offer(offer.id, j, at(12)).await,
        matching
            .decline_offer(OfferId(Uuid::now_v7()), i, at(12))
            .await,
    ];
    for outcome in not_found {
        assert_eq!(outcome.expect("decline"), DeclineOutcome::NotFound);
    }
    match matching
        .decline_offer(offer.id, i, at(12))
        .await
        .expect("decline")
    {
        DeclineOutcome::Declined {
            offer: o,
            request: r,
        } => {
            assert_eq!((o.id, o.status), (offer.id, OfferStatus::Declined));
            assert_eq!(r.request.id, request.id);
            assert_eq!(r.request.status, RequestStatus::Queued);
            assert_eq!(r.session_id, None);
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(presence.status, InterpreterStatus::Available);
    assert_eq!((presence.since, presence.idle_since), (at(12), at(12)));
    assert_eq!(
        matching.languages_waiting().await.expect("waiting"),
        [lang("es")]
    );

    let snapshot = matching
        .snapshot(lang("es"), at(13), None)
        .await
        .expect("snapshot");
    assert!(snapshot.history.contains(request.id, i));
    let mine = snapshot
        .interpreters
        .iter()
        .find(|s| s.id == i)
        .expect("the decliner is in the snapshot");
    assert_eq!(mine.declines_today, 1);
    assert_eq!(mine.idle_since, at(12));

    // Never the same request to the same interpreter again, whatever became of the first offer.
    let again = new_offer(&request, i, 14);
    let applied = matching
        .apply_offer(&again, &explanation(&request, i, 14))
        .await
        .expect("apply_offer");
    assert!(!applied);
    assert_eq!(matching.offer(again.id).await.expect("read"), None);
    assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Available);
    offered(&*matching, &request, j, 15).await;

    assert_eq!(
        matching
            .decline_offer(offer.id, i, at(16))
            .await
            .expect("decline"),
        DeclineOutcome::Refused(OfferError::NotPending(OfferStatus::Declined))
    );
}
