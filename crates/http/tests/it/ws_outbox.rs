//! A connection's outbox is bounded: once it is full the relay marks the connection too slow and
//! wakes it (it then closes with "too slow: reconnect and resume"), and what was queued stays in
//! order.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use dragoman_domain::UserId;
use dragoman_http::ws::hub::Hub;
use dragoman_inprocess::InProcessBus;
use dragoman_ports::{Audience, Bus, Event};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_full_outbox_marks_the_connection_too_slow() {
    let hub = Arc::new(Hub::new());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let user = UserId(uuid::Uuid::new_v4());
    assert!(hub.admit(10));
    let handle = hub.register(user, 2);
    let stop = CancellationToken::new();
    // Subscribed once `relay` returns: all that is published next reaches it.
    let relay = tokio::spawn(hub.clone().relay(bus.clone(), stop.clone()));

    // One event more than the outbox holds; nobody takes from it.
    for _ in 0..3 {
        bus.publish(Event {
            audience: Audience::User(user),
            kind: "status.changed",
            at: Utc::now(),
            data: serde_json::json!({}),
        });
    }
    // The relay wakes the connection once the outbox overflowed (the wake is kept if nobody
    // waits yet).
    let woken = tokio::time::timeout(Duration::from_secs(5), handle.wake.notified()).await;
    assert!(woken.is_ok(), "the connection was not woken");
    assert!(
        handle.too_slow.load(Ordering::Relaxed),
        "the outbox never counted as full"
    );
    let first = handle.outbox.recv().await.id;
    let second = handle.outbox.recv().await.id;
    assert!(
        matches!((first, second), (Some(a), Some(b)) if a < b),
        "{first:?} {second:?}"
    );
    stop.cancel();
    relay.await.expect("the relay stops when told");
    hub.unregister(user, handle.id);
    assert!(hub.is_empty());
}
