//! The connection registry suite.

use std::sync::Arc;
use std::time::Duration;

use dragoman_domain::UserId;
use dragoman_ports::{ConnectionRegistry, SocketId};
use uuid::Uuid;

use crate::Time;

/// Expands the connection registry suite. `$factory` yields
/// `(Arc<dyn ConnectionRegistry>, guard)` for an implementation on a server's time (the suite
/// waits), or after `manual`, `(Arc<dyn ConnectionRegistry>, Time, guard)` for one that reads the
/// given clock (the suite advances it).
#[macro_export]
macro_rules! connections_suite {
    (manual $factory:expr) => {
        $crate::connections_suite!(@cases $factory;
            a_user_may_be_held_by_several_instances,
            release_forgets_one_instance,
            records_run_out_unless_renewed,
            opening_past_the_cap_evicts_the_oldest,
            concurrent_opens_never_exceed_the_cap,
            socket_records_run_out_unless_their_instance_renews,
            a_ticket_is_taken_once,
            a_ticket_runs_out);
    };
    ($factory:expr) => {
        $crate::connections_suite!(manual {
            let (registry, guard) = $factory;
            (registry, $crate::Time::Real, guard)
        });
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (registry, time, _guard) = $factory;
                $crate::connections::$case(registry, time).await;
            }
        )+
    };
}

const MINUTE: Duration = Duration::from_secs(60);

pub async fn a_user_may_be_held_by_several_instances(
    registry: Arc<dyn ConnectionRegistry>,
    _time: Time,
) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    assert!(registry.holders(a).await.expect("read").is_empty());
    registry
        .hold("instance-b", &[a], MINUTE)
        .await
        .expect("held");
    registry
        .hold("instance-a", &[a, b], MINUTE)
        .await
        .expect("held");
    registry
        .hold("instance-a", &[a], MINUTE)
        .await
        .expect("renewed");
    assert_eq!(
        registry.holders(a).await.expect("read"),
        vec!["instance-a".to_owned(), "instance-b".to_owned()]
    );
    assert_eq!(
        registry.holders(b).await.expect("read"),
        vec!["instance-a".to_owned()]
    );
    registry
        .hold("instance-a", &[], MINUTE)
        .await
        .expect("nothing");
}

pub async fn release_forgets_one_instance(registry: Arc<dyn ConnectionRegistry>, _time: Time) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    registry.hold("one", &[a, b], MINUTE).await.expect("held");
    registry.hold("two", &[a], MINUTE).await.expect("held");
    registry.release("one", &[a, b]).await.expect("released");
    assert_eq!(
        registry.holders(a).await.expect("read"),
        vec!["two".to_owned()]
    );
    assert!(registry.holders(b).await.expect("read").is_empty());
    registry.release("two", &[a]).await.expect("released");
    registry
        .release("never", &[a])
        .await
        .expect("released nothing");
    assert!(registry.holders(a).await.expect("read").is_empty());
}

pub async fn records_run_out_unless_renewed(registry: Arc<dyn ConnectionRegistry>, time: Time) {
    let a = UserId(Uuid::new_v4());
    let short = time.step() * 3;
    registry.hold("dies", &[a], short).await.expect("held");
    registry.hold("lives", &[a], short).await.expect("held");
    time.pass(time.step() * 2).await;
    registry.hold("lives", &[a], short).await.expect("renewed");
    time.pass(time.step() * 2).await;
    assert_eq!(
        registry.holders(a).await.expect("read"),
        vec!["lives".to_owned()]
    );
}

fn socket(instance: &str, number: u64) -> SocketId {
    SocketId {
        instance: instance.to_owned(),
        number,
    }
}

pub async fn opening_past_the_cap_evicts_the_oldest(
    registry: Arc<dyn ConnectionRegistry>,
    time: Time,
) {
    let (user, other) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    // Sockets opened in order, alternating instances; numbers out of order on purpose (the
    // order is the opening, not the number).
    let opened = [
        socket("a", 9),
        socket("b", 1),
        socket("a", 10),
        socket("b", 2),
        socket("a", 3),
    ];
    for s in &opened {
        let evicted = registry.open(user, s, 5, MINUTE).await.expect("opened");
        assert!(evicted.is_empty(), "under the cap: {evicted:?}");
        // Distinct opening times even on a coarse clock.
        time.pass(Duration::from_millis(3)).await;
    }
    registry
        .open(other, &socket("a", 100), 5, MINUTE)
        .await
        .expect("another user's socket");
    assert_eq!(registry.sockets(user).await.expect("read"), opened.to_vec());
    let sixth = socket("b", 4);
    let evicted = registry
        .open(user, &sixth, 5, MINUTE)
        .await
        .expect("opened");
    assert_eq!(evicted, vec![socket("a", 9)], "the oldest goes");
    let mut now = opened[1..].to_vec();
    now.push(sixth);
    assert_eq!(registry.sockets(user).await.expect("read"), now);
    // A lower cap evicts several, oldest first; a socket that closed is forgotten.
    registry.close(user, &socket("a", 3)).await.expect("closed");
    registry
        .close(user, &socket("a", 3))
        .await
        .expect("closing twice is nothing");
    time.pass(Duration::from_millis(3)).await;
    let evicted = registry
        .open(user, &socket("a", 11), 2, MINUTE)
        .await
        .expect("opened");
    assert_eq!(
        evicted,
        vec![socket("b", 1), socket("a", 10), socket("b", 2)]
    );
    assert_eq!(
        registry.sockets(user).await.expect("read"),
        vec![socket("b", 4), socket("a", 11)]
    );
    assert_eq!(
        registry.sockets(other).await.expect("read"),
        vec![socket("a", 100)],
        "another user's sockets are untouched"
    );
}

pub async fn concurrent_opens_never_exceed_the_cap(
    registry: Arc<dyn ConnectionRegistry>,
    _time: Time,
) {
    let user = UserId(Uuid::new_v4());
    let opens = (0..20u64).map(|n| {
        let registry = registry.clone();
        async move {
            let instance = if n % 2 == 0 { "a" } else { "b" };
            registry
                .open(user, &socket(instance, n), 5, MINUTE)
                .await
                .expect("opened")
        }
    });
    let evicted: Vec<SocketId> = futures::future::join_all(opens)
        .await
        .into_iter()
        .flatten()
        .collect();
    let left = registry.sockets(user).await.expect("read");
    assert_eq!(left.len(), 5, "{left:?}");
    assert_eq!(evicted.len(), 15, "every socket past the cap is named once");
    for s in &left {
        assert!(!evicted.contains(s), "{s:?} both kept and evicted");
    }
}

pub async fn socket_records_run_out_unless_their_instance_renews(
    registry: Arc<dyn ConnectionRegistry>,
    time: Time,
) {
    let user = UserId(Uuid::new_v4());
    let short = time.step() * 3;
    registry
        .open(user, &socket("dies", 1), 5, short)
        .await
        .expect("opened");
    registry
        .open(user, &socket("lives", 1), 5, short)
        .await
        .expect("opened");
    time.pass(time.step() * 2).await;
    registry
        .hold("lives", &[user], short)
        .await
        .expect("renewed");
    time.pass(time.step() * 2).await;
    assert_eq!(
        registry.sockets(user).await.expect("read"),
        vec![socket("lives", 1)]
    );
    // A socket whose record ran out no longer counts toward the cap.
    let evicted = registry
        .open(user, &socket("lives", 2), 2, MINUTE)
        .await
        .expect("opened");
    assert!(evicted.is_empty(), "{evicted:?}");
}

pub async fn a_ticket_is_taken_once(registry: Arc<dyn ConnectionRegistry>, _time: Time) {
    let key = format!("ticket-{}", Uuid::new_v4().simple());
    assert_eq!(registry.take_ticket(&key).await.expect("read"), None);
    assert!(
        registry
            .put_ticket(&key, "grant one", MINUTE)
            .await
            .expect("kept")
    );
    assert!(
        !registry
            .put_ticket(&key, "grant two", MINUTE)
            .await
            .expect("refused"),
        "a key in use is not overwritten"
    );
    let takes = (0..8).map(|_| {
        let (registry, key) = (registry.clone(), key.clone());
        async move { registry.take_ticket(&key).await.expect("taken") }
    });
    let taken: Vec<String> = futures::future::join_all(takes)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(taken, vec!["grant one".to_owned()], "exactly one taker");
}

pub async fn a_ticket_runs_out(registry: Arc<dyn ConnectionRegistry>, time: Time) {
    let key = format!("ticket-{}", Uuid::new_v4().simple());
    assert!(
        registry
            .put_ticket(&key, "grant", time.step())
            .await
            .expect("kept")
    );
    time.pass(time.step() * 3).await;
    assert_eq!(registry.take_ticket(&key).await.expect("read"), None);
}
