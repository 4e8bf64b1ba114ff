//! The claim: an offer reserves its interpreter and its request atomically, or writes nothing.

use std::sync::Arc;

use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::{OfferId, RequestStatus};
use dragoman_ports::{MatchingStore, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn apply_offer_claims_interpreter_and_request(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let a = client(&*store, "nurse").await;
    let b = client(&*store, "lawyer").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 1).await;
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 2).await;
    let offline = interpreter(&*store, "olga", &["es"]).await;
    let first = queued(&*matching, a, "es", 5).await;
    let second = queued(&*matching, b, "es", 6).await;

    let offer = offered(&*matching, &first, i, 10).await;
    assert_eq!(matching.offer(offer.id).await.expect("read"), Some(offer));
    assert_eq!(matching.pending_offers(i).await.expect("pending"), [offer]);
    assert_eq!(offer.expires_at, at(30));
    let record = matching
        .request(first.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(record.request.status, RequestStatus::Offered);
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(presence.status, InterpreterStatus::Reserved);
    assert_eq!(presence.since, at(10));
    assert_eq!(presence.idle_since, at(1));

    // The interpreter is taken, the request is taken, the third is not available: each claim
    // fails and writes nothing.
    let refused = [
        new_offer(&second, i, 11),
        new_offer(&first, j, 11),
        new_offer(&second, offline, 11),
    ];
    for o in refused {
        let applied = matching
            .apply_offer(&o, &explanation(&second, o.interpreter_id, 11))
            .await
            .expect("apply_offer");
        assert!(!applied, "{o:?} should have been refused");
        assert_eq!(matching.offer(o.id).await.expect("read"), None);
    }
    let record = matching
        .request(second.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(record.request.status, RequestStatus::Queued);
    assert!(
        matching
            .explanations(second.id)
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(
        matching.explanations(first.id).await.expect("read").len(),
        1
    );
    assert_eq!(status_of(&*matching, j).await, InterpreterStatus::Available);
    assert_eq!(
        status_of(&*matching, offline).await,
        InterpreterStatus::Offline
    );
    assert!(
        matching
            .pending_offers(j)
            .await
            .expect("pending")
            .is_empty()
    );
    assert_eq!(
        matching.offer(OfferId(Uuid::now_v7())).await.expect("read"),
        None
    );
}

pub async fn concurrent_offers_to_one_interpreter_have_one_winner(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let mut requests = Vec::new();
    for n in 0..8 {
        let c = client(&*store, &format!("client{n}")).await;
        requests.push(queued(&*matching, c, "es", n).await);
    }
    let tasks: Vec<_> = requests
        .iter()
        .map(|r| {
            let matching = matching.clone();
            let offer = new_offer(r, i, 10);
            let why = explanation(r, i, 10);
            tokio::spawn(async move { matching.apply_offer(&offer, &why).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.expect("the task runs").expect("apply_offer") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(matching.pending_offers(i).await.expect("pending").len(), 1);
    let open = matching.open_requests(lang("es")).await.expect("open");
    let offered = open
        .iter()
        .filter(|r| r.status == RequestStatus::Offered)
        .count();
    assert_eq!((open.len(), offered), (8, 1));
}

pub async fn concurrent_offers_of_one_request_have_one_winner(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let request = queued(&*matching, c, "es", 0).await;
    let mut interpreters = Vec::new();
    for n in 0..8 {
        let name = format!("interpreter{n}");
        interpreters.push(available_interpreter(&*store, &*matching, &name, &["es"], n).await);
    }
    // Every interpreter is tried, and the first one twice under different offer ids.
    let tasks: Vec<_> = interpreters
        .iter()
        .chain(interpreters.first())
        .map(|&i| {
            let matching = matching.clone();
            let offer = new_offer(&request, i, 10);
            let why = explanation(&request, i, 10);
            tokio::spawn(async move { matching.apply_offer(&offer, &why).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        if t.await.expect("the task runs").expect("apply_offer") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    let mut reserved = 0;
    for &i in &interpreters {
        if status_of(&*matching, i).await == InterpreterStatus::Reserved {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 1);
    assert_eq!(
        matching.explanations(request.id).await.expect("read").len(),
        1
    );
}
