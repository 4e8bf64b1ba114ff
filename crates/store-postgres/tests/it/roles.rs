//! The API's least-privilege role: after `grant_app_role` it reads and writes rows and nothing
//! else, and granting again (every `dragoman migrate`) changes nothing for it.

use dragoman_store_postgres::testing::{APP_ROLE, DatabaseGuard, TestDatabase, with_user};
use dragoman_store_postgres::{PgStore, Pooler};
use sqlx::{Connection, Executor, PgConnection};

async fn as_role(db: &TestDatabase) -> PgConnection {
    PgConnection::connect(&with_user(&db.direct_url(), APP_ROLE))
        .await
        .expect("the role logs in")
}

#[tokio::test]
async fn the_api_role_writes_rows_and_changes_no_schema() {
    let db = DatabaseGuard(TestDatabase::create().await.expect("a test database"));
    PgStore::grant_app_role(&db.0.direct_url(), APP_ROLE, None)
        .await
        .expect("granted");
    // Twice, as every deploy's migration does.
    PgStore::grant_app_role(&db.0.direct_url(), APP_ROLE, None)
        .await
        .expect("granted again");

    let store = PgStore::connect(&with_user(&db.0.direct_url(), APP_ROLE), Pooler::None, 2)
        .await
        .expect("connects");
    store
        .check_schema()
        .await
        .expect("reads the migration history");
    store.close().await;

    let mut conn = as_role(&db.0).await;
    conn.execute("INSERT INTO job_runs (run_key) VALUES ('k')")
        .await
        .expect("inserts a row");
    conn.execute("UPDATE job_runs SET ran_at = now() WHERE run_key = 'k'")
        .await
        .expect("updates it");
    conn.execute("DELETE FROM job_runs WHERE run_key = 'k'")
        .await
        .expect("deletes it");

    for refused in [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE job_runs",
        "ALTER TABLE users ADD COLUMN x int",
        "TRUNCATE job_runs",
        "DELETE FROM _sqlx_migrations",
        "UPDATE _sqlx_migrations SET success = false",
        "CREATE ROLE other",
        "CREATE DATABASE other",
    ] {
        let err = conn
            .execute(refused)
            .await
            .expect_err(&format!("{refused} must be refused"));
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{refused}: {err}");
    }
    conn.close().await.ok();
}

#[tokio::test]
async fn the_api_role_must_not_be_the_owner() {
    let db = DatabaseGuard(TestDatabase::create().await.expect("a test database"));
    let err = PgStore::grant_app_role(&db.0.direct_url(), "postgres", None)
        .await
        .expect_err("granting to the owner is refused");
    assert!(err.to_string().contains("role of its own"), "{err}");
}
