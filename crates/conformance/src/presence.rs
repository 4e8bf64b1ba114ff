//! The presence suite.

use std::sync::Arc;
use std::time::Duration;

use dragoman_domain::UserId;
use dragoman_ports::PresenceRegistry;
use uuid::Uuid;

use crate::Time;

/// Expands the presence suite. `$factory` yields `(Arc<dyn PresenceRegistry>, guard)` for an
/// implementation on a server's time (the suite waits), or after `manual`,
/// `(Arc<dyn PresenceRegistry>, Time, guard)` for one that reads the given clock (the suite
/// advances it).
#[macro_export]
macro_rules! presence_suite {
    (manual $factory:expr) => {
        $crate::presence_suite!(@cases $factory; marks_are_per_user, marks_run_out_unless_renewed);
    };
    ($factory:expr) => {
        $crate::presence_suite!(manual {
            let (presence, guard) = $factory;
            (presence, $crate::Time::Real, guard)
        });
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (presence, time, _guard) = $factory;
                $crate::presence::$case(presence, time).await;
            }
        )+
    };
}

pub async fn marks_are_per_user(presence: Arc<dyn PresenceRegistry>, _time: Time) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    assert_eq!(
        presence.present(&[a, b]).await.expect("read"),
        vec![false, false]
    );
    presence
        .touch(&[a], Duration::from_secs(60))
        .await
        .expect("touched");
    assert_eq!(
        presence.present(&[a, b]).await.expect("read"),
        vec![true, false]
    );
    assert!(presence.present(&[]).await.expect("read").is_empty());
}

pub async fn marks_run_out_unless_renewed(presence: Arc<dyn PresenceRegistry>, time: Time) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    let ttl = time.step() * 3;
    presence.touch(&[a, b], ttl).await.expect("touched");
    time.pass(time.step() * 2).await;
    presence.touch(&[b], ttl).await.expect("renewed");
    time.pass(time.step() * 2).await;
    assert_eq!(
        presence.present(&[a, b]).await.expect("read"),
        vec![false, true]
    );
}
