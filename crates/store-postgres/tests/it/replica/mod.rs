//! The store with a streaming read replica (scripts/pg-replica): read-your-writes, the fall back
//! to the primary when the replica lags or disappears, and its return.
//!
//! The replica is shared by every test of the run, and these tests pause its replay or cut it
//! off, so they take one lock on the primary for their whole length (other test binaries that use
//! the replica only ever see their reads go to the primary for a while, which is still correct).
//! A test that pauses replay holds a [`ReplayPaused`] guard, which resumes it even when the test
//! fails.

mod observe;
mod proxy;

use std::sync::Arc;
use std::time::Duration;

use dragoman_conformance::matching::fixtures::{
    ended, interpreter, session_between, set_status, status_of,
};
use dragoman_domain::InterpreterStatus;
use dragoman_ports::{MatchingStore, Store};
use dragoman_store_postgres::testing::{DatabaseGuard, TestDatabase, admin_url, replica_url};
use dragoman_store_postgres::{PgStore, Pooler, ReplicaSettings};
use sqlx::{Connection, Executor, PgConnection};

/// Held for a test's whole length: no other replica test pauses or cuts the replica meanwhile.
struct ReplicaLock {
    /// The session that holds the lock: dropping it releases the lock.
    _session: PgConnection,
}

impl ReplicaLock {
    async fn take() -> Self {
        let mut conn = PgConnection::connect(&admin_url())
            .await
            .expect("the primary");
        conn.execute("SELECT pg_advisory_lock(727275)")
            .await
            .expect("the replica tests' lock");
        Self { _session: conn }
    }
}

/// Replay paused on the replica until dropped.
struct ReplayPaused;

impl ReplayPaused {
    async fn start() -> Self {
        replica_admin()
            .await
            .execute("SELECT pg_wal_replay_pause()")
            .await
            .expect("replay paused");
        Self
    }
}

impl Drop for ReplayPaused {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime: resume on a thread and runtime of its own.
        std::thread::spawn(|| {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&replica_url()).await {
                        conn.execute("SELECT pg_wal_replay_resume()").await.ok();
                    }
                });
            }
        })
        .join()
        .ok();
    }
}

async fn replica_admin() -> PgConnection {
    PgConnection::connect(&replica_url())
        .await
        .expect("the replica answers (scripts/pg-replica)")
}

/// A store on a database of its own whose routed reads go to the replica at `replica` (the real
/// one when `None`).
async fn store_with_replica(
    max_lag: Duration,
    replica: Option<String>,
) -> (Arc<PgStore>, TestDatabase, DatabaseGuard) {
    let db = TestDatabase::create().await.expect("a test database");
    let on_replica = db.replica_url().await.expect("the database on the replica");
    let store = PgStore::connect(&db.direct_url(), Pooler::None, 4)
        .await
        .expect("the primary")
        .with_replica(&ReplicaSettings {
            url: replica.unwrap_or(on_replica),
            pooler: Pooler::None,
            max_connections: 4,
            max_lag,
        })
        .await
        .expect("the replica answers");
    (Arc::new(store), db.clone(), DatabaseGuard(db))
}

/// Available interpreters of `es` by the routed count.
async fn available_es(matching: &dyn MatchingStore) -> u32 {
    matching
        .status_counts()
        .await
        .expect("counted")
        .into_iter()
        .filter(|c| c.language.as_str() == "es" && c.status == InterpreterStatus::Available)
        .map(|c| c.count)
        .sum()
}

/// Polls `check` every 50 ms for up to 20 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 20 s");
}

mod down;
mod lag;
mod writes;
