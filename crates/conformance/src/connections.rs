//! The connection registry suite.

use std::sync::Arc;
use std::time::Duration;

use dragoman_domain::UserId;
use dragoman_ports::ConnectionRegistry;
use uuid::Uuid;

/// Expands the connection registry suite; `$factory` yields
/// `(Arc<dyn ConnectionRegistry>, guard)`.
#[macro_export]
macro_rules! connections_suite {
    ($factory:expr) => {
        $crate::connections_suite!(@cases $factory;
            a_user_may_be_held_by_several_instances,
            release_forgets_one_instance,
            records_run_out_unless_renewed);
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (registry, _guard) = $factory;
                $crate::connections::$case(registry).await;
            }
        )+
    };
}

const MINUTE: Duration = Duration::from_secs(60);

pub async fn a_user_may_be_held_by_several_instances(registry: Arc<dyn ConnectionRegistry>) {
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

pub async fn release_forgets_one_instance(registry: Arc<dyn ConnectionRegistry>) {
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

pub async fn records_run_out_unless_renewed(registry: Arc<dyn ConnectionRegistry>) {
    let a = UserId(Uuid::new_v4());
    let short = Duration::from_millis(300);
    registry.hold("dies", &[a], short).await.expect("held");
    registry.hold("lives", &[a], short).await.expect("held");
    tokio::time::sleep(Duration::from_millis(200)).await;
    registry.hold("lives", &[a], short).await.expect("renewed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        registry.holders(a).await.expect("read"),
        vec!["lives".to_owned()]
    );
}
