//! Requests: creation, one open request per client, cancellation and the expiry timer.

use std::sync::Arc;

use dragoman_domain::matching::{Need, OfferStatus, Priority, Request, RequestId, RequestStatus};
use dragoman_domain::{InterpreterStatus, Modality, Specialization};
use dragoman_ports::matching::{CancelOutcome, CreateRequestOutcome, RequestRecord};
use dragoman_ports::{MatchingStore, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn creates_and_reads_requests(store: Arc<dyn Store>, matching: Arc<dyn MatchingStore>) {
    let c = client(&*store, "nurse").await;
    let request = Request::new(
        RequestId(Uuid::now_v7()),
        c,
        Need::new(
            lang("es"),
            Some(Specialization::Medical),
            Some(Modality::Audio),
        ),
        Priority(2),
        at(10),
    );
    let outcome = matching
        .create_request(&request, at(310), None)
        .await
        .expect("create");
    assert_eq!(outcome, CreateRequestOutcome::Created);
    assert_eq!(
        matching.request(request.id).await.expect("read"),
        Some(RequestRecord {
            request,
            expires_at: at(310),
            session_id: None,
        })
    );
    assert_eq!(
        matching
            .request(RequestId(Uuid::now_v7()))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        matching.open_requests(lang("es")).await.expect("open"),
        [request]
    );
    assert!(
        matching
            .open_requests(lang("fr"))
            .await
            .expect("open")
            .is_empty()
    );
    assert_eq!(
        matching.languages_waiting().await.expect("waiting"),
        [lang("es")]
    );

    // An offered request is still open, but no longer waiting for an offer.
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    offered(&*matching, &request, i, 20).await;
    let open = matching.open_requests(lang("es")).await.expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, RequestStatus::Offered);
    assert!(
        matching
            .languages_waiting()
            .await
            .expect("waiting")
            .is_empty()
    );
}
pub async fn one_open_request_per_client(store: Arc<dyn Store>, matching: Arc<dyn MatchingStore>) {
    let c = client(&*store, "nurse").await;
    let first = queued(&*matching, c, "es", 0).await;
    let second = new_request(c, "fr", 1);
    assert_one_open_conflict(matching.create_request(&second, at(301), None).await);
    assert_eq!(matching.request(second.id).await.expect("read"), None);

    // Still open once offered.
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    offered(&*matching, &first, i, 2).await;
    assert_one_open_conflict(matching.create_request(&second, at(301), None).await);

    // Another client is not affected.
    let other = client(&*store, "lawyer").await;
    queued(&*matching, other, "fr", 3).await;

    // Once the first is closed, the client may ask again.
    matching
        .cancel_request(first.id, c, at(4))
        .await
        .expect("cancel");
    queued(&*matching, c, "fr", 5).await;
}
pub async fn cancel_follows_the_request_life_cycle(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let stranger = client(&*store, "stranger").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 5).await;

    let queued_one = queued(&*matching, c, "es", 10).await;
    let not_found = [
        matching
            .cancel_request(queued_one.id, stranger, at(11))
            .await,
        matching
            .cancel_request(RequestId(Uuid::now_v7()), c, at(11))
            .await,
    ];
    for outcome in not_found {
        assert_eq!(outcome.expect("cancel"), CancelOutcome::NotFound);
    }
    let cancelled = RequestRecord {
        request: Request {
            status: RequestStatus::Cancelled,
            ..queued_one
        },
        expires_at: at(310),
        session_id: None,
    };
    assert_eq!(
        matching
            .cancel_request(queued_one.id, c, at(12))
            .await
            .expect("cancel"),
        CancelOutcome::Cancelled {
            request: cancelled.clone(),
            rescinded: None
        }
    );
    assert_eq!(
        matching
            .cancel_request(queued_one.id, c, at(13))
            .await
            .expect("cancel"),
        CancelOutcome::NotOpen(cancelled)
    );

    // Cancelling an offered request rescinds its offer and releases the interpreter.
    let offered_one = queued(&*matching, c, "es", 20).await;
    let offer = offered(&*matching, &offered_one, i, 21).await;
    match matching
        .cancel_request(offered_one.id, c, at(22))
        .await
        .expect("cancel")
    {
        CancelOutcome::Cancelled { request, rescinded } => {
            assert_eq!(request.request.status, RequestStatus::Cancelled);
            let rescinded = rescinded.expect("the pending offer is rescinded");
            assert_eq!(rescinded.id, offer.id);
            assert_eq!(rescinded.status, OfferStatus::Rescinded);
        }
        other => panic!("expected a cancellation, got {other:?}"),
    }
    let stored = matching.offer(offer.id).await.expect("read").expect("kept");
    assert_eq!(stored.status, OfferStatus::Rescinded);
    assert!(
        matching
            .pending_offers(i)
            .await
            .expect("pending")
            .is_empty()
    );
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(presence.status, InterpreterStatus::Available);
    assert_eq!(presence.since, at(22));
    assert_eq!(presence.idle_since, at(5), "a rescind keeps the idle place");

    // A matched request is no longer open.
    let matched = queued(&*matching, c, "es", 30).await;
    let offer = offered(&*matching, &matched, i, 31).await;
    let session = accepted(&*matching, &offer, 32).await;
    match matching
        .cancel_request(matched.id, c, at(33))
        .await
        .expect("cancel")
    {
        CancelOutcome::NotOpen(record) => {
            assert_eq!(record.request.status, RequestStatus::Matched);
            assert_eq!(record.session_id, Some(session.id));
        }
        other => panic!("expected NotOpen, got {other:?}"),
    }
    assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Busy);
}

pub async fn overdue_requests_expire_and_release_their_interpreter(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let a = client(&*store, "nurse").await;
    let b = client(&*store, "lawyer").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 1).await;
    let waiting = queued(&*matching, a, "es", 0).await;
    let offered_one = queued(&*matching, b, "es", 10).await;
    let offer = offered(&*matching, &offered_one, i, 300).await;

    assert!(
        matching
            .expire_requests(at(299))
            .await
            .expect("expire")
            .is_empty()
    );
    let mut expired = matching.expire_requests(at(310)).await.expect("expire");
    expired.sort_by_key(|e| e.request.request.created_at);
    assert_eq!(expired.len(), 2, "{expired:?}");
    assert_eq!(expired[0].request.request.id, waiting.id);
    assert_eq!(expired[0].rescinded, None);
    assert_eq!(expired[1].request.request.id, offered_one.id);
    let rescinded = expired[1]
        .rescinded
        .expect("the pending offer is rescinded");
    assert_eq!(
        (rescinded.id, rescinded.status),
        (offer.id, OfferStatus::Rescinded)
    );
    for e in &expired {
        assert_eq!(e.request.request.status, RequestStatus::Expired);
        let stored = matching
            .request(e.request.request.id)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(stored.request.status, RequestStatus::Expired);
    }
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(presence.status, InterpreterStatus::Available);
    assert_eq!(presence.idle_since, at(1), "a rescind keeps the idle place");
    assert!(
        matching
            .pending_offers(i)
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(
        matching
            .open_requests(lang("es"))
            .await
            .expect("open")
            .is_empty()
    );
    assert!(
        matching
            .expire_requests(at(400))
            .await
            .expect("expire")
            .is_empty()
    );
}
