//! Instructions on the bus close the connections they name, on the instance that holds them:
//! one socket past a user's cap, or (the revocation hook) every socket of a user.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dragoman_domain::UserId;
use dragoman_http::ws::dismissal::{Dismissal, Instruction, revoke};
use dragoman_http::ws::hub::{Handle, Hub};
use dragoman_inprocess::InProcessBus;
use dragoman_ports::{Bus, SocketId};
use tokio_util::sync::CancellationToken;

/// Waits until the relay has dismissed `handle`: a dismissal wakes the connection (the wake is
/// kept if nobody waits yet), so no polling and no sleep.
async fn dismissed(handle: &Handle) -> Option<Dismissal> {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(why) = handle.dismissal() {
                return why;
            }
            handle.wake.notified().await;
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn an_instruction_closes_what_it_names_and_nothing_else() {
    let hub = Arc::new(Hub::named("instance-a"));
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let (user, other) = (UserId(uuid::Uuid::new_v4()), UserId(uuid::Uuid::new_v4()));
    let handles: Vec<Arc<Handle>> = (0..3)
        .map(|_| {
            assert!(hub.admit(10));
            hub.register(user, 4)
        })
        .collect();
    assert!(hub.admit(10));
    let others = hub.register(other, 4);
    let stop = CancellationToken::new();
    // Subscribed once `relay` returns: what is published next reaches it.
    let relay = tokio::spawn(hub.clone().relay(bus.clone(), stop.clone()));

    // One socket, named on another instance: nothing here. Then named here: that one.
    for instance in ["instance-b", "instance-a"] {
        Instruction {
            user,
            socket: Some(SocketId {
                instance: instance.to_owned(),
                number: handles[1].id,
            }),
            why: Dismissal::Replaced,
        }
        .publish(bus.as_ref(), Utc::now());
    }
    assert_eq!(dismissed(&handles[1]).await, Some(Dismissal::Replaced));
    assert_eq!(handles[0].dismissal(), None);
    assert_eq!(handles[2].dismissal(), None);

    // The revocation hook: every socket of the user, no one else's.
    revoke(bus.as_ref(), user, Utc::now());
    assert_eq!(dismissed(&handles[0]).await, Some(Dismissal::Revoked));
    assert_eq!(dismissed(&handles[2]).await, Some(Dismissal::Revoked));
    assert_eq!(others.dismissal(), None);
    assert_eq!(
        (Dismissal::Revoked.code(), Dismissal::Revoked.reason()),
        (4003, "signed out")
    );
    stop.cancel();
    relay.await.expect("the relay stops when told");
}
