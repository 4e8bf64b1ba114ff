//! Running a state-changing transaction again when it lost a race it could not prevent.
//!
//! Two things send a transaction round again: PostgreSQL refusing it (a deadlock, 40P01, or a
//! serialization failure, 40001), and the transaction itself finding, once it holds its locks,
//! that a row it read before locking changed in a way that would need a lock out of order (a
//! request that gained a pending offer to another interpreter). Either way nothing was written:
//! the transaction rolled back.

use std::future::Future;
use std::time::Duration;

use dragoman_ports::StoreError;

/// How many times a transaction runs before the caller gets an error.
const ATTEMPTS: u32 = 6;

/// What one run of a transaction came to.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    Done(T),
    /// A row changed between the unlocked read and the lock: run again.
    Stale,
}

/// Runs `attempt` until it is done, retrying stale runs, deadlocks and serialization failures.
pub(crate) async fn retrying<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, StoreError>>,
{
    for n in 1..=ATTEMPTS {
        match attempt().await {
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Stale) => {}
            Err(e) if n < ATTEMPTS && retryable(&e) => {
                // Back off a little, differently for each round, so that the two losers of a
                // deadlock do not meet again at once.
                tokio::time::sleep(Duration::from_millis(u64::from(n * n) * 3)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Backend(anyhow::anyhow!(
        "{what}: still contended after {ATTEMPTS} attempts"
    )))
}

/// A deadlock or a serialization failure: the transaction may succeed if run again.
pub(crate) fn retryable(e: &StoreError) -> bool {
    let StoreError::Backend(e) = e else {
        return false;
    };
    match e.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001") | Some("40P01"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stale_runs_are_retried_then_given_up() {
        let mut runs = 0;
        let done = retrying("test", || {
            runs += 1;
            let r = if runs < 3 {
                Attempt::Stale
            } else {
                Attempt::Done(runs)
            };
            async move { Ok::<_, StoreError>(r) }
        })
        .await;
        assert_eq!(done.ok(), Some(3));
        let never = retrying("test", || async { Ok::<Attempt<()>, _>(Attempt::Stale) }).await;
        assert!(matches!(never, Err(StoreError::Backend(_))));
    }

    #[test]
    fn other_errors_are_not_retryable() {
        assert!(!retryable(&StoreError::NotFound));
        assert!(!retryable(&StoreError::Backend(anyhow::anyhow!("boom"))));
    }
}
