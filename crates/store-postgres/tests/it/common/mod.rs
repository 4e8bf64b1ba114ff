//! What the concurrency tests share: several store instances on one database, a clock every
//! task reads, a small random source, and the invariants of API.md checked in SQL.
//!
//! Each instance is a `PgStore` with a pool of its own, as separate server processes would have;
//! some connect directly and some through PgBouncer in transaction pooling.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use dragoman_conformance::matching::fixtures::at;
use dragoman_ports::{MatchingStore, Store};
use dragoman_store_postgres::testing::{DatabaseGuard, TestDatabase};
use dragoman_store_postgres::{PgStore, Pooler};
use sqlx::{Connection, PgConnection, Row};

/// Several instances sharing one test database.
#[derive(Debug)]
pub struct Fleet {
    pub instances: Vec<Arc<PgStore>>,
    pub url: String,
    _db: DatabaseGuard,
}

impl Fleet {
    /// `direct` instances connected to PostgreSQL and `pooled` ones through PgBouncer.
    pub async fn new(direct: usize, pooled: usize) -> Self {
        let db = TestDatabase::create().await.expect("a test database");
        let mut instances = Vec::new();
        for n in 0..direct + pooled {
            let store = if n < direct {
                PgStore::connect(&db.direct_url(), Pooler::None, 4).await
            } else {
                PgStore::connect(&db.pgbouncer_url(), Pooler::Transaction, 4).await
            };
            instances.push(Arc::new(store.expect("an instance connects")));
        }
        Self {
            instances,
            url: db.direct_url(),
            _db: DatabaseGuard(db),
        }
    }

    pub fn store(&self, n: usize) -> Arc<dyn Store> {
        self.instances[n % self.instances.len()].clone()
    }

    pub fn matching(&self, n: usize) -> Arc<dyn MatchingStore> {
        self.instances[n % self.instances.len()].clone()
    }

    /// Deadlocks PostgreSQL detected in this database so far.
    pub async fn deadlocks(&self) -> i64 {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let n: i64 = sqlx::query_scalar(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .expect("pg_stat_database");
        conn.close().await.ok();
        n
    }

    /// Every invariant that fails, as one line each, read in one consistent snapshot. Every
    /// change is one transaction, so they must hold in every snapshot, not only at rest.
    pub async fn violations(&self) -> Vec<String> {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .expect("repeatable read");
        let mut found = Vec::new();
        for (what, sql) in INVARIANTS {
            let rows = sqlx::query(*sql)
                .fetch_all(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            for row in rows {
                let id: String = row.try_get(0).expect("an id");
                found.push(format!("{what}: {id}"));
            }
        }
        tx.rollback().await.ok();
        conn.close().await.ok();
        found
    }

    /// How many requests are in each status.
    pub async fn request_statuses(&self) -> Vec<(String, i64)> {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        let rows = sqlx::query_as::<_, (String, i64)>(
            "SELECT status, count(*) FROM requests GROUP BY status ORDER BY status",
        )
        .fetch_all(&mut conn)
        .await
        .expect("statuses");
        conn.close().await.ok();
        rows
    }
}

/// Each query returns the ids of the rows that break one invariant.
const INVARIANTS: &[(&str, &str)] = &[
    (
        "reserved exactly when an offer to them is pending",
        "SELECT i.user_id::text FROM interpreters i
         WHERE (i.status = 'reserved') <> EXISTS (
             SELECT 1 FROM offers o WHERE o.interpreter_id = i.user_id AND o.status = 'pending')",
    ),
    (
        "busy exactly when in an open session",
        "SELECT i.user_id::text FROM interpreters i
         WHERE (i.status = 'busy') <> EXISTS (
             SELECT 1 FROM sessions s WHERE s.interpreter_id = i.user_id AND s.ended_at IS NULL)",
    ),
    (
        "at most one pending offer per interpreter",
        "SELECT interpreter_id::text FROM offers WHERE status = 'pending'
         GROUP BY interpreter_id HAVING count(*) > 1",
    ),
    (
        "offered exactly when one of its offers is pending",
        "SELECT r.id::text FROM requests r
         WHERE (r.status = 'offered') <> EXISTS (
             SELECT 1 FROM offers o WHERE o.request_id = r.id AND o.status = 'pending')",
    ),
    (
        "matched exactly when it has its session",
        "SELECT r.id::text FROM requests r
         WHERE (r.status = 'matched') <> EXISTS (
             SELECT 1 FROM sessions s WHERE s.request_id = r.id AND s.id = r.session_id)",
    ),
    (
        "a session's offer was accepted by its interpreter",
        "SELECT s.id::text FROM sessions s
         WHERE NOT EXISTS (SELECT 1 FROM offers o WHERE o.request_id = s.request_id
                           AND o.interpreter_id = s.interpreter_id AND o.status = 'accepted')",
    ),
    (
        "at most one accepted offer per request",
        "SELECT request_id::text FROM offers WHERE status = 'accepted'
         GROUP BY request_id HAVING count(*) > 1",
    ),
    (
        "the interpreter of a session speaks its language",
        "SELECT s.id::text FROM sessions s
         WHERE NOT EXISTS (SELECT 1 FROM interpreter_languages l
                           WHERE l.user_id = s.interpreter_id AND l.code = s.language)",
    ),
    (
        "at most one open request per client",
        "SELECT client_id::text FROM requests WHERE status IN ('queued', 'offered')
         GROUP BY client_id HAVING count(*) > 1",
    ),
    (
        "an offer for every explanation and an explanation for every offer",
        "SELECT o.id::text FROM offers o FULL JOIN explanations e ON e.offer_id = o.id
         WHERE o.id IS NULL OR e.offer_id IS NULL",
    ),
];

/// A clock all tasks share: fake seconds after `at(0)`, moved forward by a ticker task.
#[derive(Debug, Default)]
pub struct Clock(AtomicI64);

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        at(self.0.load(Ordering::SeqCst))
    }

    pub fn seconds(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// A xorshift random source: enough to vary interleavings, reproducible from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
