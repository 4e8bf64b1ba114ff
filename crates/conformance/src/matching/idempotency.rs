//! Idempotency keys: a retried creation replays the first answer and creates nothing.

use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::matching::Request;
use dragoman_ports::matching::{CreateRequestOutcome, IdempotencyKey};
use dragoman_ports::{MatchingStore, Store, StoreError};

use super::fixtures::*;

fn key(key: &str, now: i64) -> IdempotencyKey {
    IdempotencyKey {
        key: key.to_owned(),
        not_before: at(now) - TimeDelta::hours(24),
    }
}

async fn create_with_key(
    matching: &dyn MatchingStore,
    request: &Request,
    k: &IdempotencyKey,
) -> Result<CreateRequestOutcome, StoreError> {
    matching
        .create_request(request, request.created_at + MAX_WAIT, Some(k))
        .await
}

pub async fn idempotency_keys_replay_within_their_window(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let first = new_request(c, "es", 0);
    let outcome = create_with_key(&*matching, &first, &key("k-1", 0)).await;
    assert_eq!(outcome.expect("create"), CreateRequestOutcome::Created);

    // The same key within 24 h replays, creates nothing, and beats the one-open-request rule.
    let retry = new_request(c, "es", 60);
    let outcome = create_with_key(&*matching, &retry, &key("k-1", 60)).await;
    assert_eq!(
        outcome.expect("replay"),
        CreateRequestOutcome::Replayed {
            request_id: first.id,
            response: None
        }
    );
    assert_eq!(matching.request(retry.id).await.expect("read"), None);
    assert_eq!(
        matching.open_requests(lang("es")).await.expect("open"),
        [first]
    );

    // Once saved, the first answer is what a replay returns.
    let body = format!(r#"{{"id":"{}","status":"queued"}}"#, first.id);
    matching
        .save_idempotent_response(c, "k-1", &body)
        .await
        .expect("save");
    let outcome = create_with_key(&*matching, &new_request(c, "es", 120), &key("k-1", 120)).await;
    assert_eq!(
        outcome.expect("replay"),
        CreateRequestOutcome::Replayed {
            request_id: first.id,
            response: Some(body)
        }
    );

    // Keys belong to one client.
    let other = client(&*store, "lawyer").await;
    let theirs = new_request(other, "es", 130);
    let outcome = create_with_key(&*matching, &theirs, &key("k-1", 130)).await;
    assert_eq!(outcome.expect("create"), CreateRequestOutcome::Created);

    // A refused creation does not record its key.
    let refused = new_request(c, "es", 140);
    assert_one_open_conflict(create_with_key(&*matching, &refused, &key("k-2", 140)).await);
    matching
        .cancel_request(first.id, c, at(150))
        .await
        .expect("cancel");
    let again = new_request(c, "es", 160);
    let outcome = create_with_key(&*matching, &again, &key("k-2", 160)).await;
    assert_eq!(outcome.expect("create"), CreateRequestOutcome::Created);
    matching
        .cancel_request(again.id, c, at(170))
        .await
        .expect("cancel");

    // After 24 h the key is forgotten: a new request, which the key now names.
    let day_later = new_request(c, "es", 90_000);
    let outcome = create_with_key(&*matching, &day_later, &key("k-1", 90_000)).await;
    assert_eq!(outcome.expect("create"), CreateRequestOutcome::Created);
    let outcome = create_with_key(
        &*matching,
        &new_request(c, "es", 90_060),
        &key("k-1", 90_060),
    )
    .await;
    assert_eq!(
        outcome.expect("replay"),
        CreateRequestOutcome::Replayed {
            request_id: day_later.id,
            response: None
        }
    );
}
