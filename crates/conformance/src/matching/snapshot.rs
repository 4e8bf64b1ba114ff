//! The snapshot matching decides from, and the day's counters in it.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::RequestStatus;
use dragoman_ports::{MatchingStore, Store};

use super::fixtures::*;

pub async fn snapshot_holds_what_matching_needs(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let a = available_interpreter(&*store, &*matching, "ana", &["es", "fr"], 1).await;
    let b = available_interpreter(&*store, &*matching, "bruno", &["es"], 2).await;
    let d = available_interpreter(&*store, &*matching, "dora", &["es"], 3).await;
    let f = available_interpreter(&*store, &*matching, "fabien", &["fr"], 4).await;
    bare_interpreter(&*store, "newcomer").await;

    let clients = [
        client(&*store, "c1").await,
        client(&*store, "c2").await,
        client(&*store, "c3").await,
        client(&*store, "c4").await,
    ];
    let declined = queued(&*matching, clients[0], "es", 10).await;
    let pending = queued(&*matching, clients[1], "es", 11).await;
    let french = queued(&*matching, clients[2], "fr", 12).await;
    let cancelled = queued(&*matching, clients[3], "es", 13).await;
    offered(&*matching, &cancelled, d, 14).await;
    matching
        .cancel_request(cancelled.id, clients[3], at(15))
        .await
        .expect("cancel");
    let first = offered(&*matching, &declined, b, 20).await;
    matching
        .decline_offer(first.id, b, at(21))
        .await
        .expect("decline");
    set_status(&*matching, b, InterpreterStatus::Offline, 22).await;
    set_status(&*matching, d, InterpreterStatus::Away, 23).await;
    let offer = offered(&*matching, &pending, a, 30).await;
    offered(&*matching, &french, f, 31).await;

    let snapshot = matching
        .snapshot(lang("es"), at(40), None)
        .await
        .expect("snapshot");

    let mut requests: Vec<_> = snapshot
        .requests
        .iter()
        .map(|r| (r.id, r.status.as_str()))
        .collect();
    requests.sort();
    let mut expected = vec![
        (declined.id, RequestStatus::Queued.as_str()),
        (pending.id, RequestStatus::Offered.as_str()),
    ];
    expected.sort();
    assert_eq!(requests, expected, "the open requests of the language only");

    let mut interpreters: Vec<_> = snapshot
        .interpreters
        .iter()
        .map(|s| (s.id, s.status.as_str()))
        .collect();
    interpreters.sort();
    let mut expected = vec![
        (a, InterpreterStatus::Reserved.as_str()),
        (b, InterpreterStatus::Offline.as_str()),
        (d, InterpreterStatus::Away.as_str()),
    ];
    expected.sort();
    assert_eq!(
        interpreters, expected,
        "everyone with the language, any status"
    );
    let ana = snapshot
        .interpreters
        .iter()
        .find(|s| s.id == a)
        .expect("ana");
    assert_eq!(ana.profile, profile(&["es", "fr"]));
    assert_eq!(ana.idle_since, at(1));
    assert_eq!(ana.last_offered_at, Some(at(30)));
    let bruno = snapshot
        .interpreters
        .iter()
        .find(|s| s.id == b)
        .expect("bruno");
    assert_eq!(bruno.declines_today, 1);
    assert_eq!(bruno.last_offered_at, Some(at(20)));

    assert!(snapshot.history.contains(declined.id, b));
    assert!(snapshot.history.contains(pending.id, a));
    assert!(!snapshot.history.contains(declined.id, a));
    let pending_es: Vec<_> = snapshot
        .pending_offers
        .iter()
        .filter(|o| o.need.language == lang("es"))
        .collect();
    assert_eq!(pending_es, [&offer], "the pending offers of the language");

    let ids: HashSet<_> = matching
        .snapshot(lang("fr"), at(40), None)
        .await
        .expect("snapshot")
        .interpreters
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, HashSet::from([a, f]));
}

pub async fn today_counters_reset_on_a_new_utc_day(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let c = client(&*store, "nurse").await;
    let d = client(&*store, "doctor").await;

    let first = queued(&*matching, d, "es", 0).await;
    let offer = offered(&*matching, &first, i, 5).await;
    matching
        .decline_offer(offer.id, i, at(6))
        .await
        .expect("decline");
    let session = session_between(&*matching, c, i, "es", 10).await;
    ended(&*matching, &session, c, 72).await;

    let counters = |snapshot: dragoman_domain::Snapshot| {
        let s = snapshot
            .interpreters
            .into_iter()
            .find(|s| s.id == i)
            .expect("in the snapshot");
        (s.declines_today, s.talk_time_today)
    };
    let today = matching
        .snapshot(lang("es"), at(100), None)
        .await
        .expect("snapshot");
    assert_eq!(counters(today), (1, TimeDelta::seconds(60)));
    let tomorrow = matching
        .snapshot(lang("es"), at(TO_NEXT_UTC_DAY), None)
        .await
        .expect("snapshot");
    assert_eq!(counters(tomorrow), (0, TimeDelta::zero()));
    let last_second = matching
        .snapshot(lang("es"), at(TO_NEXT_UTC_DAY - 1), None)
        .await
        .expect("snapshot");
    assert_eq!(counters(last_second), (1, TimeDelta::seconds(60)));

    // A decline on the new day starts the count again.
    matching
        .finish_wrap_ups(at(TO_NEXT_UTC_DAY), TimeDelta::seconds(10))
        .await
        .expect("wrap-ups");
    let second = queued(&*matching, c, "es", TO_NEXT_UTC_DAY + 10).await;
    let offer = offered(&*matching, &second, i, TO_NEXT_UTC_DAY + 11).await;
    matching
        .decline_offer(offer.id, i, at(TO_NEXT_UTC_DAY + 12))
        .await
        .expect("decline");
    let later = matching
        .snapshot(lang("es"), at(TO_NEXT_UTC_DAY + 20), None)
        .await
        .expect("snapshot");
    assert_eq!(counters(later), (1, TimeDelta::zero()));
}

/// A profile changed between two snapshots is seen whole by the second, even when the change
/// carries the same instant as the profile before it (a store that keeps profiles between
/// snapshots must key them by something every change moves).
pub async fn snapshot_sees_each_profile_change(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let i = available_interpreter(&*store, &*matching, "ines", &["es", "fr"], 0).await;
    let profile_in = |snapshot: dragoman_domain::Snapshot| {
        snapshot
            .interpreters
            .into_iter()
            .find(|s| s.id == i)
            .map(|s| s.profile)
    };
    let first = matching
        .snapshot(lang("es"), at(1), None)
        .await
        .expect("snapshot");
    assert_eq!(profile_in(first), Some(profile(&["es", "fr"])));

    // Same languages, another level and another order, at the same instant as the first profile.
    let mut reordered = profile(&["fr", "es"]);
    let mut skills = reordered.languages().to_vec();
    skills[1].level = dragoman_domain::Level::Native;
    skills[1].certified = true;
    reordered =
        dragoman_domain::Profile::new(skills, reordered.specializations, reordered.modalities)
            .expect("a valid profile");
    store
        .put_profile(i, &reordered, at(0))
        .await
        .expect("profile");
    let second = matching
        .snapshot(lang("es"), at(2), None)
        .await
        .expect("snapshot");
    assert_eq!(
        profile_in(second),
        Some(reordered),
        "the changed profile, not the one read before"
    );

    // Spanish dropped: no longer in Spanish's snapshot, still in French's with the new profile.
    store
        .put_profile(i, &profile(&["fr"]), at(0))
        .await
        .expect("profile");
    let spanish = matching
        .snapshot(lang("es"), at(3), None)
        .await
        .expect("snapshot");
    assert_eq!(
        profile_in(spanish),
        None,
        "no longer listed under a dropped language"
    );
    let french = matching
        .snapshot(lang("fr"), at(3), None)
        .await
        .expect("snapshot");
    assert_eq!(profile_in(french), Some(profile(&["fr"])));
}

/// A snapshot limited to some interpreters (`only`) has exactly those of them who list the
/// language, as the whole snapshot has them, in the same order; its requests are whole.
pub async fn snapshot_of_some_interpreters_matches_the_whole(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let ana = available_interpreter(&*store, &*matching, "ana", &["es"], 0).await;
    let bea = available_interpreter(&*store, &*matching, "bea", &["es", "fr"], 1).await;
    let cloe = available_interpreter(&*store, &*matching, "cloe", &["es"], 2).await;
    let fred = available_interpreter(&*store, &*matching, "fred", &["fr"], 3).await;
    let whole = matching
        .snapshot(lang("es"), at(10), None)
        .await
        .expect("snapshot");
    assert_eq!(whole.interpreters.len(), 3);

    // cloe and bea (in any order), fred who does not list Spanish, and someone unknown.
    let unknown = dragoman_domain::UserId(uuid::Uuid::from_u128(42));
    let some = matching
        .snapshot(lang("es"), at(10), Some(&[cloe, fred, unknown, bea]))
        .await
        .expect("snapshot");
    let expected: Vec<_> = whole
        .interpreters
        .iter()
        .filter(|i| i.id == bea || i.id == cloe)
        .cloned()
        .collect();
    assert_eq!(some.interpreters, expected);
    assert_eq!(some.requests, whole.requests);
    assert!(
        !some.interpreters.iter().any(|i| i.id == ana),
        "only those asked for"
    );

    let none = matching
        .snapshot(lang("es"), at(10), Some(&[]))
        .await
        .expect("snapshot");
    assert!(none.interpreters.is_empty());
}
