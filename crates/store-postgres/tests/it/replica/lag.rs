//! A replica lagging beyond DATABASE_READ_MAX_LAG_MS: reads go to the primary, the gauge and one
//! log line say so; when it catches up, reads return to it and one line says that.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_beyond_the_limit_sends_reads_to_the_primary_until_it_catches_up() {
    let _lock = ReplicaLock::take().await;
    observe::start();
    let max_lag = Duration::from_millis(400);
    let (store, _db, _guard) = store_with_replica(max_lag, None).await;
    let matching: &dyn MatchingStore = store.as_ref();
    let id = interpreter(store.as_ref() as &dyn Store, "Ana", &["es"]).await;
    // A replica still replaying an earlier test's backlog may lag for a moment: start healthy.
    eventually("a healthy replica", || store.replica_in_use() == Some(true)).await;
    assert_eq!(observe::metric("dragoman_db_replica_up"), 1.0);
    let mark = observe::start();

    let paused = ReplayPaused::start().await;
    // Writes keep coming on the primary while the replica replays none of them.
    let mut t = 0;
    let mut available = false;
    for _ in 0..400 {
        if store.replica_in_use() == Some(false) {
            break;
        }
        t += 1;
        available = !available;
        let to = if available {
            InterpreterStatus::Available
        } else {
            InterpreterStatus::Away
        };
        set_status(matching, id, to, t).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.replica_in_use(),
        Some(false),
        "the lag was never noticed"
    );
    assert!(observe::metric("dragoman_db_replica_lag_ms") > 400.0);
    assert_eq!(observe::metric("dragoman_db_replica_up"), 0.0);

    // Reads go to the primary, and see the latest write.
    let lagging = observe::fallbacks("lag");
    assert_eq!(available_es(matching).await, u32::from(available));
    assert_eq!(observe::fallbacks("lag") - lagging, 1.0);
    // Several checks later (each sets the lag gauge to a new, larger age), still one line for
    // the change.
    let mut seen = vec![observe::metric("dragoman_db_replica_lag_ms")];
    eventually("three more checks of the replica", || {
        let lag = observe::metric("dragoman_db_replica_lag_ms");
        if seen.last() != Some(&lag) {
            seen.push(lag);
        }
        seen.len() > 3
    })
    .await;
    assert_eq!(observe::lines_since(mark, "Read replica lags"), 1);

    drop(paused);
    eventually("the replica's return", || {
        store.replica_in_use() == Some(true)
    })
    .await;
    // The monitor routes reads back, then writes its line.
    eventually("the line for the replica's return", || {
        observe::lines_since(mark, "Read replica usable again") > 0
    })
    .await;
    assert_eq!(observe::lines_since(mark, "Read replica usable again"), 1);
    assert!(observe::metric("dragoman_db_replica_lag_ms") <= 400.0);
    let lagging = observe::fallbacks("lag");
    assert_eq!(available_es(matching).await, u32::from(available));
    assert_eq!(observe::fallbacks("lag") - lagging, 0.0);
}
