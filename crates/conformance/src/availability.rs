//! The availability cache suite.

use std::sync::Arc;
use std::time::Duration;

use dragoman_domain::UserId;
use dragoman_ports::{AvailabilityCache, CachedStatus};
use uuid::Uuid;

use crate::Time;

/// Expands the availability cache suite. `$factory` yields `(Arc<dyn AvailabilityCache>, guard)`
/// for an implementation on a server's time (the suite waits), or after `manual`,
/// `(Arc<dyn AvailabilityCache>, Time, guard)` for one that reads the given clock (the suite
/// advances it).
#[macro_export]
macro_rules! availability_suite {
    (manual $factory:expr) => {
        $crate::availability_suite!(@cases $factory;
            entries_are_per_interpreter_and_replaced,
            entries_run_out_unless_refreshed,
            refresh_creates_nothing);
    };
    ($factory:expr) => {
        $crate::availability_suite!(manual {
            let (cache, guard) = $factory;
            (cache, $crate::Time::Real, guard)
        });
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (cache, time, _guard) = $factory;
                $crate::availability::$case(cache, time).await;
            }
        )+
    };
}

fn entry(status: &str, languages: &[&str]) -> CachedStatus {
    CachedStatus {
        status: status.to_owned(),
        languages: languages.iter().map(|l| (*l).to_owned()).collect(),
    }
}

pub async fn entries_are_per_interpreter_and_replaced(
    cache: Arc<dyn AvailabilityCache>,
    _time: Time,
) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    assert_eq!(cache.get(a).await.expect("read"), None);
    let minute = Duration::from_secs(60);
    cache
        .put(a, &entry("available", &["es", "fr"]), minute)
        .await
        .expect("written");
    assert_eq!(
        cache.get(a).await.expect("read"),
        Some(entry("available", &["es", "fr"]))
    );
    assert_eq!(cache.get(b).await.expect("read"), None);
    cache
        .put(a, &entry("reserved", &["es", "fr"]), minute)
        .await
        .expect("written");
    assert_eq!(
        cache.get(a).await.expect("read"),
        Some(entry("reserved", &["es", "fr"]))
    );
}

pub async fn entries_run_out_unless_refreshed(cache: Arc<dyn AvailabilityCache>, time: Time) {
    let (a, b) = (UserId(Uuid::new_v4()), UserId(Uuid::new_v4()));
    let short = time.step() * 3;
    cache
        .put(a, &entry("available", &["de"]), short)
        .await
        .expect("written");
    cache
        .put(b, &entry("away", &["it"]), short)
        .await
        .expect("written");
    time.pass(time.step() * 2).await;
    cache.refresh(&[b], short).await.expect("refreshed");
    time.pass(time.step() * 2).await;
    assert_eq!(cache.get(a).await.expect("read"), None);
    assert_eq!(
        cache.get(b).await.expect("read"),
        Some(entry("away", &["it"]))
    );
    cache.refresh(&[], short).await.expect("nothing to refresh");
}

pub async fn refresh_creates_nothing(cache: Arc<dyn AvailabilityCache>, _time: Time) {
    let a = UserId(Uuid::new_v4());
    cache
        .refresh(&[a], Duration::from_secs(60))
        .await
        .expect("refreshed");
    assert_eq!(cache.get(a).await.expect("read"), None);
}
