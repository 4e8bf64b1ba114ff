//! Stored explanations: why each offer went where it went, as decided over a stored snapshot.

use std::sync::Arc;

use dragoman_domain::matching::{Exclusion, Matcher, OfferId};
use dragoman_ports::matching::StoredExplanation;
use dragoman_ports::{MatchingStore, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn explanations_round_trip_oldest_first(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let first = available_interpreter(&*store, &*matching, "ines", &["es"], 1).await;
    let second = available_interpreter(&*store, &*matching, "jorge", &["es"], 2).await;
    let c = client(&*store, "nurse").await;
    let request = queued(&*matching, c, "es", 5).await;
    let matcher = Matcher::default();

    // A round of matching over the stored snapshot: the longest idle is chosen.
    let snapshot = matching
        .snapshot(lang("es"), at(10), None)
        .await
        .expect("snapshot");
    let plan = matcher.plan(&snapshot, at(10));
    let [planned] = plan.offers.as_slice() else {
        panic!("expected one planned offer, got {plan:?}");
    };
    assert_eq!(planned.interpreter_id, first);
    let o1 = planned.to_offer(OfferId(Uuid::now_v7()));
    assert!(
        matching
            .apply_offer(&o1, &planned.explanation)
            .await
            .expect("apply")
    );
    let e1 = planned.explanation.clone();
    matching
        .decline_offer(o1.id, first, at(12))
        .await
        .expect("decline");

    // The next round excludes the decliner through the stored history.
    let snapshot = matching
        .snapshot(lang("es"), at(20), None)
        .await
        .expect("snapshot");
    let plan = matcher.plan(&snapshot, at(20));
    let [planned] = plan.offers.as_slice() else {
        panic!("expected one planned offer, got {plan:?}");
    };
    assert_eq!(planned.interpreter_id, second);
    assert!(
        planned
            .explanation
            .excluded
            .iter()
            .any(|x| x.interpreter_id == first && x.rule == Exclusion::AlreadyOffered)
    );
    let o2 = planned.to_offer(OfferId(Uuid::now_v7()));
    assert!(
        matching
            .apply_offer(&o2, &planned.explanation)
            .await
            .expect("apply")
    );
    let e2 = planned.explanation.clone();

    let json = |e| serde_json::to_value(e).expect("an explanation serializes");
    assert_eq!(
        matching.explanations(request.id).await.expect("read"),
        [
            StoredExplanation {
                offer_id: o1.id,
                decided_at: at(10),
                body: json(&e1),
            },
            StoredExplanation {
                offer_id: o2.id,
                decided_at: at(20),
                body: json(&e2),
            },
        ]
    );
    let other = queued(&*matching, client(&*store, "lawyer").await, "es", 30).await;
    assert!(
        matching
            .explanations(other.id)
            .await
            .expect("read")
            .is_empty()
    );
}
