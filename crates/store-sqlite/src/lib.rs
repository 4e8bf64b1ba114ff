//! The embedded store: one SQLite file, created and migrated on first start.
//!
//! Writes go through a pool of exactly one connection. SQLite allows one writer at a time
//! anyway; queueing writers in our own pool rather than in SQLite's lock means no `SQLITE_BUSY`
//! under load and no deadlock when a read transaction would upgrade to a write. Reads use a
//! separate pool and proceed in parallel thanks to WAL mode.
//!
//! Each port role is implemented in the file of its concept: accounts, refresh tokens and
//! interpreters (the `Store` roles); requests, claims, offers, sessions, presence, leases, stats
//! and explanations (the `MatchingStore` roles). A state change is one `BEGIN IMMEDIATE`
//! transaction on the writer connection; a read takes the read pool.

mod accounts;
mod claims;
mod effects;
mod explanations;
mod files;
mod interpreters;
mod jobs;
mod leases;
mod offers;
mod presence;
mod refresh_tokens;
mod requests;
mod retention;
mod rows;
mod sessions;
mod stats;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use dragoman_ports::StoreError;
pub use jobs::SqliteQueue;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The store on one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: the only way writes reach the file.
    writer: SqlitePool,
    /// Read-only connections for queries that change nothing.
    reader: SqlitePool,
    /// Profiles' languages already read, for matching's snapshots.
    profiles: std::sync::Arc<dragoman_ports::ProfileCache>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        MIGRATOR
            .run(&writer)
            .await
            .context("migrating the SQLite database")?;
        // No liveness check before each use: a connection to a local file does not go stale,
        // and the check is a round trip that cost a third of a user read in the /v1/me
        // benchmark.
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("opening SQLite database {} for reading", path.display()))?;
        Ok(Self {
            writer,
            reader,
            profiles: Default::default(),
        })
    }

    /// Each pool's name, connections open, idle and the most it opens, for the pool gauges.
    pub fn pool_usage(&self) -> [(&'static str, u32, usize, u32); 2] {
        [("writer", &self.writer), ("reader", &self.reader)].map(|(name, p)| {
            (
                name,
                p.size(),
                p.num_idle(),
                p.options().get_max_connections(),
            )
        })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Instants are stored as microseconds since the epoch (see the first migration).
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn instant(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| corrupt(format!("timestamp {us} out of range")))
}

/// A stored value that our own code could not have written.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(anyhow::anyhow!("corrupt row in the SQLite store: {what}"))
}

/// Starts a write transaction on the writer pool. `IMMEDIATE` takes the write lock at once, so
/// what the transaction reads cannot change before it writes, even if another process opened
/// the same file.
pub(crate) async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
}

/// The unique indexes by the columns SQLite names when one refuses a write ("UNIQUE constraint
/// failed: offers.request_id, offers.interpreter_id"): the port's constraint names.
const UNIQUE_INDEXES: [(&str, &str); 8] = [
    ("users.email", "users_email_key"),
    ("refresh_tokens.token_hash", "refresh_tokens_token_hash_key"),
    ("requests.client_id", "requests_one_open_per_client"),
    (
        "offers.request_id, offers.interpreter_id",
        "offers_request_interpreter_key",
    ),
    ("offers.request_id", "offers_one_pending_per_request"),
    (
        "offers.interpreter_id",
        "offers_one_pending_per_interpreter",
    ),
    ("sessions.request_id", "sessions_request_key"),
    (
        "sessions.interpreter_id",
        "sessions_one_open_per_interpreter",
    ),
];

/// Maps driver errors, naming the constraint of a uniqueness violation. SQLite reports the
/// columns, not the index name, so the index is recovered from the message.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let columns = db.message().rsplit(": ").next().unwrap_or_default();
        let constraint = UNIQUE_INDEXES
            .iter()
            .find(|(c, _)| *c == columns)
            .map_or("unique", |(_, name)| name);
        return StoreError::Conflict {
            constraint: constraint.to_owned(),
        };
    }
    StoreError::Backend(anyhow::Error::new(e).context("SQLite query failed"))
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;

    async fn fresh() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("dragoman.sqlite"))
            .await
            .expect("the store opens");
        (store, dir)
    }

    dragoman_conformance::store_suite!({
        let (store, dir) = fresh().await;
        (
            std::sync::Arc::new(store) as std::sync::Arc<dyn dragoman_ports::Store>,
            dir,
        )
    });

    mod files {
        use super::fresh;
        use std::sync::Arc;

        dragoman_conformance::files_suite!({
            let (store, dir) = fresh().await;
            let store = Arc::new(store);
            (
                store.clone() as Arc<dyn dragoman_ports::Store>,
                store.clone() as Arc<dyn dragoman_ports::MatchingStore>,
                store as Arc<dyn dragoman_ports::FileStore>,
                dir,
            )
        });
    }

    mod retention {
        use super::fresh;
        use std::sync::Arc;

        dragoman_conformance::retention_suite!({
            let (store, dir) = fresh().await;
            let store = Arc::new(store);
            (
                store.clone() as Arc<dyn dragoman_ports::Store>,
                store.clone() as Arc<dyn dragoman_ports::MatchingStore>,
                store as Arc<dyn dragoman_ports::RetentionStore>,
                dir,
            )
        });
    }

    mod matching {
        use super::fresh;
        use std::sync::Arc;

        dragoman_conformance::matching_suite!({
            let (store, dir) = fresh().await;
            let store = Arc::new(store);
            (
                store.clone() as Arc<dyn dragoman_ports::Store>,
                store as Arc<dyn dragoman_ports::MatchingStore>,
                dir,
            )
        });
    }
}
