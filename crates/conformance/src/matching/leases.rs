//! Leases: which instance drives matching for a language, taken over when its holder dies.

use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_ports::{MatchingStore, Store};

use super::fixtures::*;

pub async fn leases_are_exclusive_until_expiry(
    _store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let ttl = TimeDelta::seconds(10);
    let lease = |name: &'static str, holder: &'static str, t: i64| {
        let matching = matching.clone();
        async move {
            matching
                .try_lease(name, holder, ttl, at(t))
                .await
                .expect("try_lease")
        }
    };
    assert!(lease("matching:es", "a", 0).await, "a free lease is taken");
    assert!(!lease("matching:es", "b", 5).await, "held by another");
    assert!(lease("matching:es", "a", 5).await, "renewed by its holder");
    assert!(
        !lease("matching:es", "b", 12).await,
        "the renewal holds until 15"
    );
    assert!(
        lease("matching:fr", "b", 12).await,
        "another name is another lease"
    );
    assert!(
        lease("matching:es", "b", 16).await,
        "taken over after expiry"
    );
    assert!(
        !lease("matching:es", "a", 17).await,
        "the old holder lost it"
    );

    // Many instances at once: one holder.
    let tasks: Vec<_> = ["h0", "h1", "h2", "h3", "h4", "h5", "h6", "h7"]
        .into_iter()
        .map(|holder| tokio::spawn(lease("matching:de", holder, 100)))
        .collect();
    let mut holders = 0;
    for t in tasks {
        if t.await.expect("the task runs") {
            holders += 1;
        }
    }
    assert_eq!(holders, 1);
}
