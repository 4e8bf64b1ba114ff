//! Test support: every test gets a database of its own, cloned from a migrated template.
//!
//! Cloning a template (`CREATE DATABASE ... TEMPLATE`) costs a few milliseconds, where migrating
//! a fresh database costs a round trip per statement; the template's name carries a hash of the
//! migrations so that a changed schema gets a new template. Test databases are named
//! `dragoman_t_*`; the test script drops leftovers of earlier runs before it starts.
//!
//! The server is found through `DRAGOMAN_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), its streaming replica (started by
//! `scripts/pg-replica`) through `DRAGOMAN_TEST_REPLICA` (default
//! `postgres://postgres@127.0.0.1:5433/postgres`) and the PgBouncer in front of it through
//! `DRAGOMAN_TEST_REPLICA_PGBOUNCER` (default `postgres://postgres@127.0.0.1:6433/postgres`). A test that cannot reach them fails: it never
//! skips. Test databases are created on the primary and reach the replica by replication.

use std::hash::{Hash, Hasher};

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

use crate::MIGRATOR;

/// Where the PostgreSQL used by tests listens, as an administrator URL.
pub fn admin_url() -> String {
    std::env::var("DRAGOMAN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Where PgBouncer (transaction pooling, wildcard database) listens, as a URL without database.
pub fn pgbouncer_url() -> String {
    std::env::var("DRAGOMAN_TEST_PGBOUNCER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:6432/postgres".to_owned())
}

/// The least-privilege role the tests connect as where production's API does (through the
/// pooler). One role for every test database: grants are per database, the role is global.
pub const APP_ROLE: &str = "dragoman_api";

/// Replaces the user of a `postgres://user[:password]@host...` URL.
pub fn with_user(url: &str, user: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}{user}{}", &url[..scheme_end + 3], &url[at..])
        }
        (Some(scheme_end), _) => format!(
            "{}{user}@{}",
            &url[..scheme_end + 3],
            &url[scheme_end + 3..]
        ),
        _ => url.to_owned(),
    }
}

/// Where the streaming replica of [`admin_url`]'s server listens, as a URL without database.
pub fn replica_url() -> String {
    std::env::var("DRAGOMAN_TEST_REPLICA")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/postgres".to_owned())
}

/// Where PgBouncer in front of the replica (transaction pooling) listens, as a URL without
/// database.
pub fn replica_pgbouncer_url() -> String {
    std::env::var("DRAGOMAN_TEST_REPLICA_PGBOUNCER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:6433/postgres".to_owned())
}

/// Replaces the database name of a `postgres://` URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = match base.find("://") {
        Some(scheme_end) => match base[scheme_end + 3..].find('/') {
            Some(slash) => &base[..scheme_end + 3 + slash],
            None => base,
        },
        None => base,
    };
    match query {
        Some(q) => format!("{authority}/{database}?{q}"),
        None => format!("{authority}/{database}"),
    }
}

/// A migrated database of one test's own.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    /// Creates the database, cloning (and if need be first creating) the migrated template.
    pub async fn create() -> anyhow::Result<Self> {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.with_context(|| {
            format!("the tests need PostgreSQL at {admin} (DRAGOMAN_TEST_POSTGRES)")
        })?;
        let template = template_name();
        ensure_template(&mut conn, &admin, &template).await?;
        let name = format!("dragoman_t_{}", uuid::Uuid::new_v4().simple());
        let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        let mut attempts = 0;
        loop {
            match conn.execute(sqlx::AssertSqlSafe(create.clone())).await {
                Ok(_) => break,
                // Another process may still be connected to the template for a moment.
                Err(e)
                    if attempts < 50 && e.to_string().contains("being accessed by other users") =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e).context("creating the test database"),
            }
        }
        conn.close().await.ok();
        Ok(Self { name })
    }

    /// The URL of this database directly on PostgreSQL.
    pub fn direct_url(&self) -> String {
        with_database(&admin_url(), &self.name)
    }

    /// The URL of this database through PgBouncer.
    pub fn pgbouncer_url(&self) -> String {
        with_database(&pgbouncer_url(), &self.name)
    }

    /// The URL of this database through PgBouncer, as [`APP_ROLE`] (granted first with
    /// `PgStore::grant_app_role`; scripts/services lists the role in PgBouncer's userlist).
    pub fn app_role_pgbouncer_url(&self) -> String {
        with_user(&self.pgbouncer_url(), APP_ROLE)
    }

    /// The URL of this database on the streaming replica, once replication has brought it there
    /// (a few milliseconds; on a loaded machine creating a database replays slowly, so up to 90 s
    /// are allowed before the test fails).
    pub async fn replica_url(&self) -> anyhow::Result<String> {
        let url = with_database(&replica_url(), &self.name);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        loop {
            match PgConnection::connect(&url).await {
                Ok(conn) => {
                    conn.close().await.ok();
                    return Ok(url);
                }
                Err(e) if std::time::Instant::now() > deadline => {
                    return Err(e).with_context(|| {
                        format!(
                            "the tests need a streaming replica at {} (DRAGOMAN_TEST_REPLICA; scripts/pg-replica starts it)",
                            replica_url()
                        )
                    });
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    /// The URL of this database through PgBouncer in front of the replica, once replication
    /// has brought it there.
    pub async fn replica_pgbouncer_url(&self) -> anyhow::Result<String> {
        self.replica_url().await?;
        Ok(with_database(&replica_pgbouncer_url(), &self.name))
    }
}

/// A test database dropped, with every connection to it, when the guard goes out of scope.
///
/// Through PgBouncer this matters: the pooler keeps its server connections to a database open
/// long after the test's own pool has closed (`server_idle_timeout`, ten minutes by default), and
/// a suite of a hundred cases would otherwise hold more connections than the server allows.
/// `DROP DATABASE ... WITH (FORCE)` ends them at once.
#[derive(Debug)]
pub struct DatabaseGuard(pub TestDatabase);

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.0.name);
        // Drop runs inside the test's runtime, which must not be blocked on: the async work gets
        // a thread and a runtime of its own. A failure leaves the database to the test script.
        let done = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    conn.execute(sqlx::AssertSqlSafe(drop)).await.ok();
                    conn.close().await.ok();
                }
            });
        });
        done.join().ok();
    }
}

fn template_name() -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    for m in MIGRATOR.iter() {
        m.version.hash(&mut hasher);
        m.checksum.hash(&mut hasher);
    }
    format!("dragoman_tpl_{:016x}", hasher.finish())
}

async fn ensure_template(
    conn: &mut PgConnection,
    admin: &str,
    template: &str,
) -> anyhow::Result<()> {
    // A session lock on our own direct connection: the one place a session lock is right.
    conn.execute("SELECT pg_advisory_lock(727274)").await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(template)
            .fetch_one(&mut *conn)
            .await?;
    let result = if exists {
        Ok(())
    } else {
        build_template(conn, admin, template).await
    };
    conn.execute("SELECT pg_advisory_unlock(727274)").await?;
    result
}

async fn build_template(
    conn: &mut PgConnection,
    admin: &str,
    template: &str,
) -> anyhow::Result<()> {
    let building = format!("{template}_building");
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{building}\""
    )))
    .await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{building}\""
    )))
    .await?;
    let mut tpl = PgConnection::connect(&with_database(admin, &building)).await?;
    MIGRATOR
        .run(&mut tpl)
        .await
        .context("migrating the template database")?;
    tpl.close().await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
    )))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h:6432", "x"),
            "postgres://u@h:6432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
