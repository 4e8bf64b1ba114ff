//! The production store on PostgreSQL.
//!
//! It works directly against PostgreSQL (or a pooler with prepared-statement support) with
//! sqlx's defaults, and through a legacy transaction pooler such as PgBouncer 1.18 with
//! [`Pooler::Transaction`]. In that mode a server connection may pass to another client between
//! any two transactions, so: no statement cache, no named prepared statements
//! (`persistent(false)` on every query), and every statement inside an explicit transaction
//! (outside one, PgBouncer may hand the connection over between Parse and Bind). The store
//! always uses explicit transactions, so the two modes differ only in those two settings.
//! Migrations take a session advisory lock, which a transaction pooler breaks: they must run over a
//! direct connection (`dragoman migrate` with the direct URL).
//!
//! With a read replica ([`PgStore::with_replica`], DATABASE_READ_URL), the read-heavy queries go
//! to it, with read-your-writes across a fleet and a fall back to the primary when it lags or is
//! down: see the `replica` module.
//!
//! Each port role is implemented in the file of its concept: users in `accounts`, refresh tokens
//! in `refresh_tokens`, profiles in `interpreters` (the roles of [`dragoman_ports::Store`]);
//! requests, claims, offers, sessions, presence, leases, statistics and explanations in
//! `matching` (the roles of [`dragoman_ports::MatchingStore`]), over the same tables. The job
//! queue of an instance without Redis is a table here too ([`PgQueue`], `queue`), beside the job
//! effects (`jobs`).

mod accounts;
mod files;
mod interpreters;
mod jobs;
mod matching;
mod refresh_tokens;
mod roles;
pub use roles::valid_role_name;
mod queue;
mod queue_operators;
mod reading;
mod replica;
mod retention;
pub mod testing;

pub(crate) use reading::Reading;
pub use replica::ReplicaSettings;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use dragoman_ports::StoreError;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Transaction};

pub use queue::PgQueue;

/// How connections reach PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooler {
    /// Directly, or through a pooler that supports prepared statements (PgBouncer 1.21+ with
    /// `max_prepared_statements`): sqlx's defaults, statements prepared once and cached.
    #[default]
    None,
    /// Through a transaction pooler without prepared-statement support (PgBouncer before 1.21).
    Transaction,
}

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// False behind a transaction pooler: each query is sent unnamed.
    persistent: bool,
    /// Profiles' languages already read, for matching's snapshots.
    profiles: std::sync::Arc<dragoman_ports::ProfileCache>,
    /// The read replica, if DATABASE_READ_URL is set (see [`PgStore::read_routed`]).
    replica: Option<std::sync::Arc<replica::Replica>>,
}

/// The server's certificate refused (`sslmode=verify-ca` or `verify-full` against
/// `sslrootcert`), somewhere in `err`'s chain: the cause, for a start-up error that names the
/// setting. A refused certificate is a configuration to fix, not an outage to wait out.
pub fn tls_refusal(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|e| e.downcast_ref::<sqlx::Error>())
        .and_then(|e| match e {
            sqlx::Error::Tls(cause) => Some(format!("TLS: {cause}")),
            // A handshake the client broke off (rustls refused the certificate) surfaces as I/O.
            sqlx::Error::Io(io) => io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map(|cause| format!("TLS: {cause}")),
            _ => None,
        })
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl PgStore {
    /// Connects a pool of at most `max_connections`. Does not migrate.
    pub async fn connect(url: &str, pooler: Pooler, max_connections: u32) -> anyhow::Result<Self> {
        let mut options = PgConnectOptions::from_str(url).context("parsing DATABASE_URL")?;
        if pooler == Pooler::Transaction {
            options = options.statement_cache_capacity(0);
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Self {
            pool,
            persistent: pooler == Pooler::None,
            profiles: Default::default(),
            replica: None,
        })
    }

    /// Brings the schema up to date over a direct connection (never through a transaction
    /// pooler: the migrator holds a session advisory lock).
    pub async fn migrate(direct_url: &str) -> anyhow::Result<()> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(direct_url)
            .await
            .context("connecting to PostgreSQL to migrate")?;
        MIGRATOR.run(&pool).await.context("migrating PostgreSQL")?;
        pool.close().await;
        Ok(())
    }

    /// Refuses to serve on a schema older than this build's migrations. A newer schema is
    /// accepted: during a rolling deploy the new version migrates while the old one still
    /// serves, which is why every migration must stay compatible with the version before it.
    pub async fn check_schema(&self) -> anyhow::Result<()> {
        let expected = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let mut tx = self.pool.begin().await?;
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .persistent(self.persistent)
                .fetch_one(&mut *tx)
                .await
                .ok()
                .flatten();
        tx.rollback().await.ok();
        match applied {
            Some(v) if v >= expected => Ok(()),
            Some(v) => anyhow::bail!(
                "the database schema is at migration {v} but this build needs {expected}: run `dragoman migrate` (over a direct connection) or start with --migrate"
            ),
            None => anyhow::bail!(
                "the database has no Dragoman schema: run `dragoman migrate` (over a direct connection) or start with --migrate"
            ),
        }
    }

    pub async fn close(&self) {
        if let Some(replica) = &self.replica {
            replica.close().await;
        }
        self.pool.close().await;
    }

    /// Connections open and idle, for the pool gauge.
    pub fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// The most connections the pool opens (DATABASE_MAX_CONNECTIONS).
    pub fn pool_max(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }

    /// A connection for reads that write nothing and need no snapshot of their own (under READ
    /// COMMITTED a transaction gives each statement its own snapshot anyway). Directly, a pooled
    /// connection, which saves the BEGIN and COMMIT round trips; through a transaction pooler, a
    /// transaction, since outside one the pooler may hand the connection over mid-statement.
    pub(crate) async fn read(&self) -> Result<Reading, StoreError> {
        Reading::on(&self.pool, self.persistent)
            .await
            .map_err(db_error)
    }

    /// A query prepared as this pool's mode allows.
    pub(crate) fn q(&self, sql: &'static str) -> Query<'static, Postgres, PgArguments> {
        sqlx::query(sql).persistent(self.persistent)
    }
}

/// A stored value that our own code could not have written.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(anyhow::anyhow!(
        "corrupt row in the PostgreSQL store: {what}"
    ))
}

/// Maps driver errors, naming the constraint that refused a write.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict {
            constraint: db.constraint().unwrap_or("unique").to_owned(),
        };
    }
    StoreError::Backend(anyhow::Error::new(e).context("PostgreSQL query failed"))
}

#[cfg(test)]
mod tests {
    //! The store and matching suites on PostgreSQL directly (as the schema's owner), then
    //! through PgBouncer in transaction pooling as the API's least-privilege role.
    use std::sync::Arc;

    use dragoman_ports::{MatchingStore, Store};

    use crate::testing::{DatabaseGuard, TestDatabase};
    use crate::{PgStore, Pooler};

    /// A store on a database of the test's own, dropped when the guard goes.
    async fn connect(direct: bool) -> (Arc<PgStore>, DatabaseGuard) {
        let db = TestDatabase::create().await.expect("a test database");
        let store = if direct {
            PgStore::connect(&db.direct_url(), Pooler::None, 4).await
        } else {
            // Through PgBouncer as production connects: as the least-privilege role.
            PgStore::grant_app_role(&db.direct_url(), crate::testing::APP_ROLE, None)
                .await
                .expect("the API's role granted");
            PgStore::connect(&db.app_role_pgbouncer_url(), Pooler::Transaction, 4).await
        };
        let store = store.expect("connected (through PgBouncer: DRAGOMAN_TEST_PGBOUNCER)");
        (Arc::new(store), DatabaseGuard(db))
    }

    mod direct {
        use super::*;
        dragoman_conformance::store_suite!({
            let (store, db) = connect(true).await;
            (store as Arc<dyn Store>, db)
        });
        dragoman_conformance::files_suite!({
            let (store, db) = connect(true).await;
            (
                store.clone() as Arc<dyn Store>,
                store.clone() as Arc<dyn MatchingStore>,
                store as Arc<dyn dragoman_ports::FileStore>,
                db,
            )
        });
        dragoman_conformance::matching_suite!({
            let (store, db) = connect(true).await;
            (
                store.clone() as Arc<dyn Store>,
                store as Arc<dyn MatchingStore>,
                db,
            )
        });
        dragoman_conformance::retention_suite!({
            let (store, db) = connect(true).await;
            (
                store.clone() as Arc<dyn Store>,
                store.clone() as Arc<dyn MatchingStore>,
                store as Arc<dyn dragoman_ports::RetentionStore>,
                db,
            )
        });
    }

    /// A store whose routed reads go to the streaming replica (scripts/pg-replica): both
    /// directly, or both through PgBouncer in transaction pooling (DATABASE_POOLER and
    /// DATABASE_READ_POOLER).
    async fn connect_with_replica(direct: bool) -> (Arc<PgStore>, DatabaseGuard) {
        let (store, db) = connect(direct).await;
        let (url, pooler) = if direct {
            (db.0.replica_url().await, Pooler::None)
        } else {
            (db.0.replica_pgbouncer_url().await, Pooler::Transaction)
        };
        let replica = crate::ReplicaSettings {
            url: url.expect("the database on the replica"),
            pooler,
            max_connections: 4,
            max_lag: std::time::Duration::from_secs(2),
        };
        let store = Arc::unwrap_or_clone(store)
            .with_replica(&replica)
            .await
            .expect("the replica answers (scripts/pg-replica)");
        (Arc::new(store), db)
    }

    /// Every read the store routes goes to the replica while it keeps up; the suites write and
    /// read at once, so they check read-your-writes throughout.
    mod through_replica {
        use super::*;
        dragoman_conformance::store_suite!({
            let (store, db) = connect_with_replica(true).await;
            (store as Arc<dyn Store>, db)
        });
        dragoman_conformance::files_suite!({
            let (store, db) = connect_with_replica(true).await;
            (
                store.clone() as Arc<dyn Store>,
                store.clone() as Arc<dyn MatchingStore>,
                store as Arc<dyn dragoman_ports::FileStore>,
                db,
            )
        });
        dragoman_conformance::matching_suite!({
            let (store, db) = connect_with_replica(true).await;
            (
                store.clone() as Arc<dyn Store>,
                store as Arc<dyn MatchingStore>,
                db,
            )
        });
    }

    /// The same with the primary and the replica each behind PgBouncer 1.18 in transaction
    /// pooling.
    mod through_pgbouncer_with_replica {
        use super::*;
        dragoman_conformance::store_suite!({
            let (store, db) = connect_with_replica(false).await;
            (store as Arc<dyn Store>, db)
        });
        dragoman_conformance::matching_suite!({
            let (store, db) = connect_with_replica(false).await;
            (
                store.clone() as Arc<dyn Store>,
                store as Arc<dyn MatchingStore>,
                db,
            )
        });
    }

    mod through_pgbouncer {
        use super::*;
        dragoman_conformance::store_suite!({
            let (store, db) = connect(false).await;
            (store as Arc<dyn Store>, db)
        });
        dragoman_conformance::files_suite!({
            let (store, db) = connect(false).await;
            (
                store.clone() as Arc<dyn Store>,
                store.clone() as Arc<dyn MatchingStore>,
                store as Arc<dyn dragoman_ports::FileStore>,
                db,
            )
        });
        dragoman_conformance::matching_suite!({
            let (store, db) = connect(false).await;
            (
                store.clone() as Arc<dyn Store>,
                store as Arc<dyn MatchingStore>,
                db,
            )
        });
        dragoman_conformance::retention_suite!({
            let (store, db) = connect(false).await;
            (
                store.clone() as Arc<dyn Store>,
                store.clone() as Arc<dyn MatchingStore>,
                store as Arc<dyn dragoman_ports::RetentionStore>,
                db,
            )
        });
    }
}
