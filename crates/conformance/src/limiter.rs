//! The attempt limiter suite.

use std::sync::Arc;
use std::time::Duration;

use dragoman_ports::AttemptLimiter;

use crate::Time;

/// Expands the limiter suite into tests. `$factory` yields `(Arc<dyn AttemptLimiter>, guard)`
/// for an implementation on a server's time (the suite waits), or after `manual`,
/// `(Arc<dyn AttemptLimiter>, Time, guard)` for one that reads the given clock (the suite
/// advances it).
#[macro_export]
macro_rules! limiter_suite {
    (manual $factory:expr) => {
        $crate::limiter_suite!(@cases $factory;
            blocks_at_the_limit_and_says_for_how_long,
            keys_are_independent_and_reset_forgets,
            a_closed_window_starts_afresh,
            reservations_count_up_to_the_limit,
            concurrent_reservations_never_pass_the_limit,
            a_released_reservation_frees_its_place,
        );
    };
    ($factory:expr) => {
        $crate::limiter_suite!(manual {
            let (limiter, guard) = $factory;
            (limiter, $crate::Time::Real, guard)
        });
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (limiter, time, _guard) = $factory;
                $crate::limiter::$case(limiter, time).await;
            }
        )+
    };
}

fn key(name: &str) -> String {
    format!("{name}:{}", uuid::Uuid::new_v4().simple())
}

pub async fn blocks_at_the_limit_and_says_for_how_long(
    limiter: Arc<dyn AttemptLimiter>,
    _time: Time,
) {
    let k = key("account");
    let window = Duration::from_secs(60);
    for _ in 0..3 {
        assert_eq!(limiter.blocked_for(&k, 3).await.expect("read"), None);
        limiter.record_failure(&k, window).await.expect("recorded");
    }
    let wait = limiter
        .blocked_for(&k, 3)
        .await
        .expect("read")
        .expect("blocked at the limit");
    assert!(wait <= window && wait > Duration::from_secs(50), "{wait:?}");
    assert_eq!(
        limiter.blocked_for(&k, 4).await.expect("read"),
        None,
        "a higher limit is not reached"
    );
}

pub async fn keys_are_independent_and_reset_forgets(limiter: Arc<dyn AttemptLimiter>, _time: Time) {
    let (a, b) = (key("a"), key("b"));
    limiter
        .record_failure(&a, Duration::from_secs(60))
        .await
        .expect("recorded");
    assert!(limiter.blocked_for(&a, 1).await.expect("read").is_some());
    assert!(limiter.blocked_for(&b, 1).await.expect("read").is_none());
    limiter.reset(&a).await.expect("reset");
    assert!(limiter.blocked_for(&a, 1).await.expect("read").is_none());
    limiter
        .reset(&b)
        .await
        .expect("resetting an unknown key is fine");
}

pub async fn a_closed_window_starts_afresh(limiter: Arc<dyn AttemptLimiter>, time: Time) {
    let k = key("window");
    let window = time.step() * 3;
    limiter.record_failure(&k, window).await.expect("recorded");
    limiter.record_failure(&k, window).await.expect("recorded");
    assert!(limiter.blocked_for(&k, 2).await.expect("read").is_some());
    time.pass(time.step() * 4).await;
    assert!(
        limiter.blocked_for(&k, 2).await.expect("read").is_none(),
        "the window closed"
    );
    limiter.record_failure(&k, window).await.expect("recorded");
    assert!(
        limiter.blocked_for(&k, 2).await.expect("read").is_none(),
        "one failure in the new window"
    );
}

pub async fn reservations_count_up_to_the_limit(limiter: Arc<dyn AttemptLimiter>, _time: Time) {
    let k = key("reserve");
    let window = Duration::from_secs(60);
    for n in 0..3 {
        assert_eq!(
            limiter.reserve(&k, 3, window).await.expect("reserve"),
            None,
            "attempt {n} is under the limit"
        );
    }
    let wait = limiter
        .reserve(&k, 3, window)
        .await
        .expect("reserve")
        .expect("the fourth attempt is refused");
    assert!(wait <= window && wait > Duration::from_secs(50), "{wait:?}");
    assert!(
        limiter.blocked_for(&k, 3).await.expect("read").is_some(),
        "reservations and recorded failures are one count"
    );
    limiter.record_failure(&k, window).await.expect("recorded");
    assert!(
        limiter
            .reserve(&k, 5, window)
            .await
            .expect("reserve")
            .is_none(),
        "a refused reservation counted nothing: 3 + 1 recorded < 5"
    );
    assert!(
        limiter
            .reserve(&k, 5, window)
            .await
            .expect("reserve")
            .is_some()
    );
}

pub async fn concurrent_reservations_never_pass_the_limit(
    limiter: Arc<dyn AttemptLimiter>,
    _time: Time,
) {
    let k = key("concurrent");
    let attempts = (0..40).map(|_| {
        let limiter = limiter.clone();
        let k = k.clone();
        tokio::spawn(async move { limiter.reserve(&k, 10, Duration::from_secs(60)).await })
    });
    let mut granted = 0;
    for attempt in attempts {
        let answer = attempt.await.expect("the task ran").expect("reserve");
        granted += usize::from(answer.is_none());
    }
    assert_eq!(
        granted, 10,
        "exactly the limit is granted, however many race"
    );
}

pub async fn a_released_reservation_frees_its_place(limiter: Arc<dyn AttemptLimiter>, _time: Time) {
    let k = key("release");
    let window = Duration::from_secs(60);
    assert!(
        limiter
            .reserve(&k, 2, window)
            .await
            .expect("reserve")
            .is_none()
    );
    assert!(
        limiter
            .reserve(&k, 2, window)
            .await
            .expect("reserve")
            .is_none()
    );
    assert!(
        limiter
            .reserve(&k, 2, window)
            .await
            .expect("reserve")
            .is_some()
    );
    limiter.release(&k).await.expect("release");
    assert!(
        limiter
            .reserve(&k, 2, window)
            .await
            .expect("reserve")
            .is_none(),
        "the released place is free again"
    );
    assert!(
        limiter
            .reserve(&k, 2, window)
            .await
            .expect("reserve")
            .is_some()
    );

    let fresh = key("release-unknown");
    limiter
        .release(&fresh)
        .await
        .expect("releasing an unknown key is fine");
    limiter.release(&fresh).await.expect("and again");
    assert!(
        limiter
            .reserve(&fresh, 1, window)
            .await
            .expect("reserve")
            .is_none()
    );
    assert!(
        limiter
            .reserve(&fresh, 1, window)
            .await
            .expect("reserve")
            .is_some(),
        "releases of nothing did not make the count negative"
    );
}
