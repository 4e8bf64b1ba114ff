//! Interpreter presence: a newcomer's, manual changes and their rules, leaving `reserved`.

use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::matching::{OfferStatus, Presence, RequestStatus};
use dragoman_domain::{InterpreterStatus, StatusChangeError, UserId};
use dragoman_ports::matching::{PresenceRecord, SetStatusOutcome};
use dragoman_ports::{MatchingStore, StatusUpdate, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn new_interpreters_have_a_sane_presence(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let i = bare_interpreter(&*store, "ines").await;
    assert_eq!(
        matching.presence(i).await.expect("presence"),
        Some(PresenceRecord {
            user_id: i,
            presence: Presence::new(at(0)),
            languages: vec![],
        })
    );
    let c = client(&*store, "nurse").await;
    assert_eq!(matching.presence(c).await.expect("presence"), None);
    let nobody = UserId(Uuid::now_v7());
    assert_eq!(matching.presence(nobody).await.expect("presence"), None);

    // With a profile, an offline newcomer is in the snapshot with neutral counters.
    store
        .put_profile(i, &profile(&["es"]), at(1))
        .await
        .expect("profile");
    let snapshot = matching
        .snapshot(lang("es"), at(2), None)
        .await
        .expect("snapshot");
    assert_eq!(snapshot.interpreters.len(), 1);
    let s = &snapshot.interpreters[0];
    assert_eq!((s.id, s.status), (i, InterpreterStatus::Offline));
    assert_eq!(s.profile, profile(&["es"]));
    assert_eq!(s.idle_since, at(0));
    assert_eq!(s.declines_today, 0);
    assert_eq!(s.talk_time_today, TimeDelta::zero());
    assert_eq!(s.last_offered_at, None);
}

pub async fn set_status_follows_the_manual_rules(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    for nobody in [c, UserId(Uuid::now_v7())] {
        assert_eq!(
            matching
                .set_status(nobody, InterpreterStatus::Available, at(1))
                .await
                .expect("set_status"),
            SetStatusOutcome::NotFound
        );
    }

    let i = bare_interpreter(&*store, "ines").await;
    assert_eq!(
        matching
            .set_status(i, InterpreterStatus::Available, at(1))
            .await
            .expect("set_status"),
        SetStatusOutcome::Refused(StatusChangeError::NoProfile)
    );
    set_status(&*matching, i, InterpreterStatus::Away, 2).await;
    store
        .put_profile(i, &profile(&["es"]), at(3))
        .await
        .expect("profile");
    match matching
        .set_status(i, InterpreterStatus::Available, at(5))
        .await
        .expect("set_status")
    {
        SetStatusOutcome::Changed {
            presence,
            rescinded,
        } => {
            assert_eq!(presence.status, InterpreterStatus::Available);
            assert_eq!((presence.since, presence.idle_since), (at(5), at(5)));
            assert_eq!(rescinded, None);
        }
        other => panic!("expected a change, got {other:?}"),
    }
    // The accounts side of the store sees the same status.
    let record = store
        .interpreter(i)
        .await
        .expect("read")
        .expect("an interpreter");
    assert_eq!(
        (record.status, record.status_since),
        (InterpreterStatus::Available, at(5))
    );
    // And the other way round.
    let update = StatusUpdate {
        from: InterpreterStatus::Available,
        to: InterpreterStatus::Away,
        at: at(6),
    };
    assert!(store.update_status(i, update).await.expect("update"));
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(
        (presence.status, presence.since),
        (InterpreterStatus::Away, at(6))
    );

    // In a session, no manual change.
    set_status(&*matching, i, InterpreterStatus::Available, 7).await;
    session_between(&*matching, c, i, "es", 10).await;
    for to in [
        InterpreterStatus::Available,
        InterpreterStatus::Away,
        InterpreterStatus::Offline,
    ] {
        assert_eq!(
            matching
                .set_status(i, to, at(20))
                .await
                .expect("set_status"),
            SetStatusOutcome::Refused(StatusChangeError::InSession)
        );
    }
    assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Busy);
}

pub async fn leaving_reserved_rescinds_the_offer(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let request = queued(&*matching, c, "es", 0).await;
    let offer = offered(&*matching, &request, i, 10).await;

    match matching
        .set_status(i, InterpreterStatus::Offline, at(12))
        .await
        .expect("set_status")
    {
        SetStatusOutcome::Changed {
            presence,
            rescinded,
        } => {
            assert_eq!(
                (presence.status, presence.since),
                (InterpreterStatus::Offline, at(12))
            );
            let rescinded = rescinded.expect("the pending offer is rescinded");
            assert_eq!(
                (rescinded.id, rescinded.status),
                (offer.id, OfferStatus::Rescinded)
            );
        }
        other => panic!("expected a change, got {other:?}"),
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
    let record = matching
        .request(request.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(record.request.status, RequestStatus::Queued);
    assert_eq!(
        matching.languages_waiting().await.expect("waiting"),
        [lang("es")]
    );
}

/// The interpreters the presence sweep looks at: online but not in a session.
pub async fn online_interpreters_are_listed(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let offline = bare_interpreter(&*store, "olga").await;
    let available = available_interpreter(&*store, &*matching, "ana", &["es"], 1).await;
    let away = available_interpreter(&*store, &*matching, "ari", &["es"], 1).await;
    set_status(&*matching, away, InterpreterStatus::Away, 2).await;
    let busy = available_interpreter(&*store, &*matching, "bo", &["fr"], 1).await;
    let c = client(&*store, "carla").await;
    let request = queued(&*matching, c, "fr", 3).await;
    let offer = offered(&*matching, &request, busy, 4).await;
    accepted(&*matching, &offer, 5).await;

    let mut online = matching.interpreters_online().await.expect("listed");
    online.sort();
    let mut expected = vec![available, away];
    expected.sort();
    assert_eq!(
        online, expected,
        "offline ({offline}) and busy ({busy}) are not listed"
    );
}
