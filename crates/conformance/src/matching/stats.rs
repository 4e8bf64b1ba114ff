//! What the wait estimate and the overview read: loads, recent activity, match times and
//! status counts.

use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::{InterpreterStatus, LanguageCode};
use dragoman_ports::matching::{LanguageLoad, RecentActivity};
use dragoman_ports::{MatchingStore, Store};

use super::fixtures::*;

fn load(code: &str, available: u32, online: u32, waiting: u32) -> LanguageLoad {
    LanguageLoad {
        language: lang(code),
        available,
        online,
        waiting,
    }
}

pub async fn language_loads_count_interpreters_and_waiting_requests(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    available_interpreter(&*store, &*matching, "ana", &["es"], 0).await;
    let b = available_interpreter(&*store, &*matching, "bruno", &["es", "fr"], 0).await;
    interpreter(&*store, "carla", &["es"]).await;
    let e = available_interpreter(&*store, &*matching, "elise", &["fr"], 0).await;
    set_status(&*matching, e, InterpreterStatus::Away, 1).await;
    let w = available_interpreter(&*store, &*matching, "walter", &["it"], 0).await;
    bare_interpreter(&*store, "newcomer").await;

    let clients = [
        client(&*store, "c1").await,
        client(&*store, "c2").await,
        client(&*store, "c3").await,
        client(&*store, "c4").await,
        client(&*store, "c5").await,
    ];
    let offered_es = queued(&*matching, clients[0], "es", 10).await;
    offered(&*matching, &offered_es, b, 11).await;
    queued(&*matching, clients[1], "es", 12).await;
    queued(&*matching, clients[2], "de", 13).await;
    session_between(&*matching, clients[3], w, "it", 14).await;
    let gone = queued(&*matching, clients[4], "es", 20).await;
    matching
        .cancel_request(gone.id, clients[4], at(21))
        .await
        .expect("cancel");

    let mut loads = matching.language_loads().await.expect("loads");
    loads.sort_by_key(|l| l.language);
    assert_eq!(
        loads,
        [
            load("de", 0, 0, 1),
            load("es", 1, 2, 2),
            load("fr", 0, 1, 0),
            load("it", 0, 1, 0),
        ]
    );
    for expected in &loads {
        let one = matching
            .language_load(expected.language)
            .await
            .expect("load of one language");
        assert_eq!(&one, expected, "language_load agrees with language_loads");
    }
    assert_eq!(
        matching
            .language_load(LanguageCode::parse("ja").expect("code"))
            .await
            .expect("load of an idle language"),
        load("ja", 0, 0, 0)
    );
}

pub async fn recent_activity_of_a_language(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let i1 = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let i2 = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let i3 = available_interpreter(&*store, &*matching, "karin", &["es"], 0).await;
    let f = available_interpreter(&*store, &*matching, "fabien", &["fr"], 0).await;
    let clients = [
        client(&*store, "c1").await,
        client(&*store, "c2").await,
        client(&*store, "c3").await,
        client(&*store, "c4").await,
    ];
    let s1 = session_between(&*matching, clients[0], i1, "es", 0).await;
    let s2 = session_between(&*matching, clients[1], i2, "es", 0).await;
    let declined = queued(&*matching, clients[2], "es", 3).await;
    let offer = offered(&*matching, &declined, i3, 4).await;
    matching
        .decline_offer(offer.id, i3, at(5))
        .await
        .expect("decline");
    let s3 = session_between(&*matching, clients[3], f, "fr", 0).await;
    ended(&*matching, &s1, i1, 62).await;
    ended(&*matching, &s2, i2, 122).await;
    ended(&*matching, &s3, f, 302).await;

    assert_eq!(
        matching
            .recent_activity(lang("es"), at(0))
            .await
            .expect("activity"),
        RecentActivity {
            mean_session: Some(TimeDelta::seconds(90)),
            offers_made: 3,
            offers_accepted: 2,
        }
    );
    assert_eq!(
        matching
            .recent_activity(lang("es"), at(100))
            .await
            .expect("activity"),
        RecentActivity {
            mean_session: Some(TimeDelta::seconds(120)),
            offers_made: 0,
            offers_accepted: 0,
        }
    );
    for (code, since) in [("es", 1_000), ("de", 0)] {
        assert_eq!(
            matching
                .recent_activity(lang(code), at(since))
                .await
                .expect("activity"),
            RecentActivity::default()
        );
    }
}

pub async fn match_times_since_an_instant(store: Arc<dyn Store>, matching: Arc<dyn MatchingStore>) {
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let f = available_interpreter(&*store, &*matching, "fabien", &["fr"], 0).await;
    let clients = [
        client(&*store, "c1").await,
        client(&*store, "c2").await,
        client(&*store, "c3").await,
    ];
    session_between(&*matching, clients[0], i, "es", 0).await;
    let slow = queued(&*matching, clients[1], "es", 100).await;
    let offer = offered(&*matching, &slow, j, 103).await;
    accepted(&*matching, &offer, 105).await;
    let french = queued(&*matching, clients[2], "fr", 200).await;
    let offer = offered(&*matching, &french, f, 209).await;
    accepted(&*matching, &offer, 210).await;

    let sorted = |mut times: Vec<(LanguageCode, i64)>| {
        times.sort();
        times
    };
    assert_eq!(
        sorted(matching.match_times(at(0)).await.expect("times")),
        [
            (lang("es"), 2_000),
            (lang("es"), 5_000),
            (lang("fr"), 10_000)
        ]
    );
    assert_eq!(
        sorted(matching.match_times(at(105)).await.expect("times")),
        [(lang("es"), 5_000), (lang("fr"), 10_000)]
    );
    assert!(
        matching
            .match_times(at(211))
            .await
            .expect("times")
            .is_empty()
    );
}

pub async fn status_counts_by_language(store: Arc<dyn Store>, matching: Arc<dyn MatchingStore>) {
    available_interpreter(&*store, &*matching, "ana", &["es", "fr"], 0).await;
    let b = available_interpreter(&*store, &*matching, "bruno", &["es"], 0).await;
    interpreter(&*store, "carla", &["fr"]).await;
    bare_interpreter(&*store, "newcomer").await;
    let c = client(&*store, "nurse").await;
    session_between(&*matching, c, b, "es", 10).await;

    let mut counts: Vec<_> = matching
        .status_counts()
        .await
        .expect("counts")
        .into_iter()
        .filter(|s| s.count > 0)
        .map(|s| (s.language, s.status.as_str(), s.count))
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            (lang("es"), InterpreterStatus::Available.as_str(), 1),
            (lang("es"), InterpreterStatus::Busy.as_str(), 1),
            (lang("fr"), InterpreterStatus::Available.as_str(), 1),
            (lang("fr"), InterpreterStatus::Offline.as_str(), 1),
        ]
    );
}
