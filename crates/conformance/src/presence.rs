//! The presence suite.

use std::sync::Arc;
use std::time::Duration;

use dragoman_domain::UserId;
use dragoman_ports::PresenceRegistry;
use uuid::Uuid;

/// Expands the presence suite; `$factory` yields `(Arc<dyn PresenceRegistry>, guard)`.
#[macro_export]
macro_rules! presence_suite {
    ($factory:expr) => {
        $crate::presence_suite!(@cases $factory; marks_are_per_user, marks_run_out_unless_renewed);
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (presence, _guard) = $factory;
                $crate::presence::$case(presence).await;
            }
        )+
    };
}

pub async fn marks_are_per_user(presence: Arc<dyn PresenceRegistry>) {
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

pub async fn marks_run_out_unless_renewed(presence: Arc<dyn PresenceRegistry>) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    presence
        .touch(&[a, b], Duration::from_millis(300))
        .await
        .expect("touched");
    tokio::time::sleep(Duration::from_millis(200)).await;
    presence
        .touch(&[b], Duration::from_millis(300))
        .await
        .expect("renewed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        presence.present(&[a, b]).await.expect("read"),
        vec![false, true]
    );
}
