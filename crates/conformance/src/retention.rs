//! The retention suite: each [`RetentionStore`] method deletes what is past its cutoff, a
//! bounded batch at a time, and keeps everything else, on every store.
//!
//! With them, the one case of bounded growth that is not a deletion: a stored explanation
//! names the online interpreters only, so it stays small however many offline ones list the
//! language.
//!
//! What a deletion removed is checked through the ports' own reads (a refresh token no longer
//! rotates, a key no longer replays, an explanation or offer is no longer found), so the suite
//! holds whatever the schema behind it. Instants are the matching fixtures' fixed ones.

use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::{Matcher, OfferId, Rating, SessionPhase, Stars};
use dragoman_ports::matching::{
    CancelOutcome, CreateRequestOutcome, DeclineOutcome, IdempotencyKey, SessionOutcome,
};
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{MatchingStore, NewRefreshToken, RetentionStore, RotateOutcome, Store};
use futures::StreamExt;
use uuid::Uuid;

use crate::matching::fixtures::*;

/// Expands the retention suite into tests. `$factory` is an expression evaluated inside each
/// async test, yielding `(Arc<dyn Store>, Arc<dyn MatchingStore>, Arc<dyn RetentionStore>,
/// guard)`, three views of one database.
#[macro_export]
macro_rules! retention_suite {
    ($factory:expr) => {
        $crate::retention_suite!(@cases $factory;
            expired_refresh_tokens_are_deleted_in_batches,
            idempotency_keys_past_their_window_are_deleted,
            old_explanations_are_deleted_and_their_offers_kept,
            old_offers_of_finished_requests_are_deleted_with_their_explanations,
            stored_explanations_count_offline_interpreters_instead_of_naming_them,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, matching, retention, _guard) = $factory;
                $crate::retention::$case(store, matching, retention).await;
            }
        )+
    };
}

fn token(user: dragoman_domain::UserId, hash: &[u8], expires: i64) -> NewRefreshToken {
    NewRefreshToken {
        id: Uuid::now_v7(),
        user_id: user,
        family_id: Uuid::now_v7(),
        token_hash: hash.to_vec(),
        created_at: at(0),
        expires_at: at(expires),
    }
}

fn next(hash: &[u8], expires: i64) -> NextRefreshToken {
    NextRefreshToken {
        id: Uuid::now_v7(),
        token_hash: hash.to_vec(),
        expires_at: at(expires),
    }
}

/// Deletes in batches of `limit` until a batch comes back short; the sizes of the batches.
async fn batches<F, Fut>(limit: u32, mut delete: F) -> Vec<u64>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<u64, dragoman_ports::StoreError>>,
{
    let mut sizes = Vec::new();
    loop {
        let n = delete(limit).await.expect("a retention batch");
        sizes.push(n);
        if n < u64::from(limit) {
            return sizes;
        }
        assert!(
            sizes.len() < 100,
            "batches never came back short: {sizes:?}"
        );
    }
}

pub async fn expired_refresh_tokens_are_deleted_in_batches(
    store: Arc<dyn Store>,
    _matching: Arc<dyn MatchingStore>,
    retention: Arc<dyn RetentionStore>,
) {
    let user = client(&*store, "nurse").await;
    for (hash, expires) in [(&b"e1"[..], 10), (b"e2", 20), (b"e3", 30)] {
        store
            .insert_refresh_token(token(user, hash, expires))
            .await
            .expect("insert");
    }
    // A live family: its first token rotated (spent, not expired), its second current.
    store
        .insert_refresh_token(token(user, b"live-1", 1_000))
        .await
        .expect("insert");
    let rotated = store
        .rotate_refresh_token(b"live-1", next(b"live-2", 2_000), at(5))
        .await
        .expect("rotate");
    assert_eq!(rotated, RotateOutcome::Rotated { user_id: user });
    // Expiring exactly now: expired (rotation needs expires_at > now).
    store
        .insert_refresh_token(token(user, b"e4", 100))
        .await
        .expect("insert");

    let sizes = batches(2, |limit| {
        retention.delete_expired_refresh_tokens(at(100), limit)
    })
    .await;
    assert_eq!(sizes, [2, 2, 0]);

    // What is left works as before: the spent token still reveals a replay, and the reuse
    // revokes its family, current token included.
    assert_eq!(
        store
            .rotate_refresh_token(b"live-1", next(b"evil", 2_000), at(101))
            .await
            .expect("rotate"),
        RotateOutcome::Reused { user_id: user }
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"live-2", next(b"x", 2_000), at(102))
            .await
            .expect("rotate"),
        RotateOutcome::Reused { user_id: user }
    );
    // Nothing not yet expired goes; the revoked family goes once all of it has expired.
    assert_eq!(
        retention
            .delete_expired_refresh_tokens(at(999), 10)
            .await
            .expect("delete"),
        0
    );
    assert_eq!(
        retention
            .delete_expired_refresh_tokens(at(2_000), 10)
            .await
            .expect("delete"),
        2
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"live-2", next(b"y", 3_000), at(2_001))
            .await
            .expect("rotate"),
        RotateOutcome::Invalid
    );
}

fn key(key: &str, not_before: i64) -> IdempotencyKey {
    IdempotencyKey {
        key: key.to_owned(),
        not_before: at(not_before),
    }
}

pub async fn idempotency_keys_past_their_window_are_deleted(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    retention: Arc<dyn RetentionStore>,
) {
    let day = TimeDelta::hours(24).num_seconds();
    let mut clients = Vec::new();
    // Keys made at 0, 10 and 20 (old), and at a day and a half (within the window).
    for (name, t) in [("a", 0), ("b", 10), ("c", 20), ("d", day + day / 2)] {
        let c = client(&*store, name).await;
        let request = new_request(c, "es", t);
        let outcome = matching
            .create_request(&request, request.created_at + MAX_WAIT, Some(&key("k", t)))
            .await
            .expect("create");
        assert_eq!(outcome, CreateRequestOutcome::Created);
        let cancelled = matching
            .cancel_request(request.id, c, at(t + 1))
            .await
            .expect("cancel");
        assert!(matches!(cancelled, CancelOutcome::Cancelled { .. }));
        clients.push((c, request));
    }

    let now = 2 * day;
    let sizes = batches(2, |limit| {
        retention.delete_idempotency_keys(at(now) - TimeDelta::hours(24), limit)
    })
    .await;
    assert_eq!(sizes, [2, 1]);

    // Asked to honour even the oldest key, the store replays only the one kept; the requests
    // themselves stay.
    for (i, (c, request)) in clients.iter().enumerate() {
        let again = new_request(*c, "es", now);
        let outcome = matching
            .create_request(&again, again.created_at + MAX_WAIT, Some(&key("k", -1)))
            .await
            .expect("create");
        let expected = if i == 3 {
            CreateRequestOutcome::Replayed {
                request_id: request.id,
                response: None,
            }
        } else {
            CreateRequestOutcome::Created
        };
        assert_eq!(outcome, expected, "client {i}");
        assert!(matching.request(request.id).await.expect("read").is_some());
    }
}

pub async fn old_explanations_are_deleted_and_their_offers_kept(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    retention: Arc<dyn RetentionStore>,
) {
    let mut offers = Vec::new();
    for (name, t) in [("a", 10), ("b", 20), ("c", 1_000)] {
        let i = available_interpreter(&*store, &*matching, name, &["es"], 0).await;
        let c = client(&*store, &format!("{name}-client")).await;
        let request = queued(&*matching, c, "es", t).await;
        offers.push((offered(&*matching, &request, i, t + 1).await, request));
    }

    let sizes = batches(1, |limit| retention.delete_explanations(at(500), limit)).await;
    assert_eq!(sizes, [1, 1, 0]);

    for (n, (offer, request)) in offers.iter().enumerate() {
        let explained = matching.explanations(request.id).await.expect("read");
        assert_eq!(explained.len(), usize::from(n == 2), "request {n}");
        assert!(matching.offer(offer.id).await.expect("read").is_some());
    }
}

pub async fn old_offers_of_finished_requests_are_deleted_with_their_explanations(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    retention: Arc<dyn RetentionStore>,
) {
    // Matched, ended and rated.
    let nurse = client(&*store, "nurse").await;
    let ines = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let session = session_between(&*matching, nurse, ines, "es", 10).await;
    ended(&*matching, &session, ines, 50).await;
    let rating = Rating::new(Stars::parse(4).expect("stars"), Some("clear")).expect("rating");
    let rated = matching
        .rate_session(session.id, nurse, &rating, at(60))
        .await
        .expect("rate");
    assert!(matches!(rated, SessionOutcome::Done(_)));
    let matched_offer = matching
        .explanations(session.request_id)
        .await
        .expect("read")[0]
        .offer_id;

    // Cancelled while offered: the offer was rescinded.
    let lawyer = client(&*store, "lawyer").await;
    let jorge = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let cancelled = queued(&*matching, lawyer, "es", 20).await;
    let rescinded = offered(&*matching, &cancelled, jorge, 21).await;
    let outcome = matching
        .cancel_request(cancelled.id, lawyer, at(22))
        .await
        .expect("cancel");
    assert!(matches!(outcome, CancelOutcome::Cancelled { .. }));

    // Still open, its offer declined: matching needs that offer (nobody is asked twice).
    let traveller = client(&*store, "traveller").await;
    let kim = available_interpreter(&*store, &*matching, "kim", &["es"], 0).await;
    let open = queued(&*matching, traveller, "es", 30).await;
    let declined = offered(&*matching, &open, kim, 31).await;
    let outcome = matching
        .decline_offer(declined.id, kim, at(32))
        .await
        .expect("decline");
    assert!(matches!(outcome, DeclineOutcome::Declined { .. }));

    // Finished, but after the cutoff.
    let pilot = client(&*store, "pilot").await;
    let lea = available_interpreter(&*store, &*matching, "lea", &["es"], 0).await;
    let recent = session_between(&*matching, pilot, lea, "es", 1_000).await;

    let sizes = batches(1, |limit| retention.delete_finished_offers(at(500), limit)).await;
    assert_eq!(sizes, [1, 1, 0]);

    assert_eq!(matching.offer(matched_offer).await.expect("read"), None);
    assert_eq!(matching.offer(rescinded.id).await.expect("read"), None);
    for request in [session.request_id, cancelled.id] {
        assert!(
            matching
                .explanations(request)
                .await
                .expect("read")
                .is_empty()
        );
        assert!(matching.request(request).await.expect("read").is_some());
    }
    assert!(matching.offer(declined.id).await.expect("read").is_some());
    let snapshot = matching
        .snapshot(lang("es"), at(40), None)
        .await
        .expect("snapshot");
    assert!(snapshot.history.contains(open.id, kim));
    assert_eq!(
        matching
            .explanations(recent.request_id)
            .await
            .expect("read")
            .len(),
        1
    );

    // Sessions and ratings stay.
    let kept = matching
        .session(session.id)
        .await
        .expect("read")
        .expect("the session stays");
    assert_eq!(
        kept.phase,
        SessionPhase::Rated {
            ended_at: at(50),
            rating,
        }
    );
    let listed = matching.sessions_of(nurse, None, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
}

pub async fn stored_explanations_count_offline_interpreters_instead_of_naming_them(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
    _retention: Arc<dyn RetentionStore>,
) {
    // A thousand registered for the language, offline; one available, one away.
    let offline: Vec<_> = futures::stream::iter(0..1_000)
        .map(|n| {
            let store = store.clone();
            async move { interpreter(&*store, &format!("offline-{n}"), &["es"]).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let ines = available_interpreter(&*store, &*matching, "ines", &["es"], 1).await;
    let away = available_interpreter(&*store, &*matching, "jorge", &["es"], 2).await;
    set_status(&*matching, away, InterpreterStatus::Away, 3).await;
    let request = queued(&*matching, client(&*store, "nurse").await, "es", 5).await;

    let snapshot = matching
        .snapshot(lang("es"), at(10), None)
        .await
        .expect("snapshot");
    assert_eq!(snapshot.interpreters.len(), 1_002);
    let plan = Matcher::default().plan(&snapshot, at(10));
    let [planned] = plan.offers.as_slice() else {
        panic!("expected one planned offer, got {plan:?}");
    };
    assert_eq!(planned.interpreter_id, ines);
    let offer = planned.to_offer(OfferId(Uuid::now_v7()));
    assert!(
        matching
            .apply_offer(&offer, &planned.explanation)
            .await
            .expect("apply")
    );

    let stored = matching.explanations(request.id).await.expect("read");
    let [stored] = stored.as_slice() else {
        panic!("expected one explanation, got {stored:?}");
    };
    let body = &stored.body;
    let entries = |field: &str| body[field].as_array().map_or(0, Vec::len);
    assert_eq!((entries("eligible"), entries("excluded")), (1, 1), "{body}");
    assert_eq!(body["excluded"][0]["interpreter_id"], away.to_string());
    let counts = body["excluded_counts"].as_object().expect("counts");
    assert_eq!(counts.len(), 1, "{body}");
    assert_eq!(counts["not_available:offline"], 1_000);
    let text = body.to_string();
    assert!(
        offline.iter().all(|id| !text.contains(&id.to_string())),
        "an offline interpreter is named"
    );
}
