//! The bus suite: numbering, delivery and replay of events.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{Audience, Bus, Event};
use uuid::Uuid;

/// Expands the bus suite into tests; `$factory` yields `(Arc<dyn Bus>, guard)`.
#[macro_export]
macro_rules! bus_suite {
    ($factory:expr) => {
        $crate::bus_suite!(@cases $factory;
            user_events_are_numbered_per_user,
            subscribers_receive_events_in_order,
            replay_returns_what_follows_an_id,
            topic_events_are_neither_numbered_nor_kept,
            instructions_to_the_gateways_reach_subscribers_unnumbered,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (bus, _guard) = $factory;
                $crate::bus::$case(bus).await;
            }
        )+
    };
}

fn event(audience: Audience, n: i64) -> Event {
    Event {
        audience,
        kind: "status.changed",
        at: Utc
            .timestamp_opt(1_800_000_000 + n, 0)
            .single()
            .expect("instant"),
        data: serde_json::json!({"n": n}),
    }
}

async fn receive(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<dragoman_ports::Delivered>>,
) -> Arc<dragoman_ports::Delivered> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an event within 5 s")
        .expect("the bus is open")
}

pub async fn user_events_are_numbered_per_user(bus: Arc<dyn Bus>) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    let mut rx = bus.subscribe();
    for (user, n) in [(a, 1), (a, 2), (b, 3), (a, 4)] {
        bus.publish(event(Audience::User(user), n));
    }
    let ids: Vec<(i64, Option<u64>)> = [
        receive(&mut rx).await,
        receive(&mut rx).await,
        receive(&mut rx).await,
        receive(&mut rx).await,
    ]
    .iter()
    .map(|d| (d.event.data["n"].as_i64().unwrap_or_default(), d.id))
    .collect();
    assert_eq!(
        ids,
        vec![(1, Some(1)), (2, Some(2)), (3, Some(1)), (4, Some(3))]
    );
}

pub async fn subscribers_receive_events_in_order(bus: Arc<dyn Bus>) {
    let user = UserId(Uuid::new_v4());
    let mut first = bus.subscribe();
    let mut second = bus.subscribe();
    for n in 0..20 {
        bus.publish(event(Audience::User(user), n));
    }
    for rx in [&mut first, &mut second] {
        for n in 0..20 {
            let d = receive(rx).await;
            assert_eq!(d.event.data["n"], n);
            assert_eq!(d.id, Some(n as u64 + 1));
        }
    }
}

pub async fn replay_returns_what_follows_an_id(bus: Arc<dyn Bus>) {
    let user = UserId(Uuid::new_v4());
    let mut rx = bus.subscribe();
    for n in 0..5 {
        bus.publish(event(Audience::User(user), n));
    }
    for _ in 0..5 {
        receive(&mut rx).await;
    }
    let replay = bus.replay(user, 2).await.expect("replay");
    assert_eq!(replay.latest, 5);
    let ids: Vec<Option<u64>> = replay.events.iter().map(|d| d.id).collect();
    assert_eq!(ids, vec![Some(3), Some(4), Some(5)]);
    assert_eq!(replay.events[0].event.data["n"], 2);
    let none = bus.replay(UserId(Uuid::new_v4()), 0).await.expect("replay");
    assert_eq!((none.latest, none.events.len()), (0, 0));
    assert!(bus.replay(user, 5).await.expect("replay").events.is_empty());
}

pub async fn topic_events_are_neither_numbered_nor_kept(bus: Arc<dyn Bus>) {
    let mut rx = bus.subscribe();
    bus.publish(event(Audience::Topic("availability".into()), 1));
    let d = receive(&mut rx).await;
    assert_eq!(d.id, None);
    assert_eq!(d.event.audience, Audience::Topic("availability".into()));
}

pub async fn instructions_to_the_gateways_reach_subscribers_unnumbered(bus: Arc<dyn Bus>) {
    let user = UserId(Uuid::new_v4());
    let mut rx = bus.subscribe();
    let data = serde_json::json!({"user": user.to_string(), "socket": null});
    bus.publish(Event {
        audience: Audience::Gateways,
        kind: "connections.close",
        at: Utc::now(),
        data: data.clone(),
    });
    let d = receive(&mut rx).await;
    assert_eq!(d.id, None);
    assert_eq!(d.event.audience, Audience::Gateways);
    assert_eq!(d.event.kind, "connections.close");
    assert_eq!(d.event.data, data);
    let replay = bus.replay(user, 0).await.expect("replay");
    assert!(replay.events.is_empty(), "not kept in anyone's log");
}
