//! Retention, as jobs of the queue: what is past its retention (expired refresh tokens,
//! idempotency keys older than 24 h, explanations and finished requests' offers older than
//! RETENTION_DAYS) is deleted by the hourly retention jobs, and what is not stays, as do sessions
//! and ratings. On a manual clock: the test moves it past the retention and past the hour the
//! jobs are due, and counts rows in the database itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Account, Backend, TestApp, settings, spawn_with_clock};
use chrono::{TimeDelta, Utc};
use dragoman_engine::jobs::JobsAdmin;
use dragoman_jobs::{Retention, next_retention_due, retention_jobs};
use dragoman_ports::{Clock, JobState, ManualClock};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(retention_jobs_delete_what_is_old_and_keep_the_rest);

/// Rows of each table the retention jobs touch, and the sessions and ratings they must not.
const TABLES: [&str; 6] = [
    "refresh_tokens",
    "idempotency_keys",
    "offers",
    "explanations",
    "sessions",
    "sessions WHERE rating_stars IS NOT NULL",
];

/// The counts once they equal `expected`, or the last ones seen after 30 s. A job leaves the
/// queue's lists as it finishes, a moment before its deletions are visible to every reader, so
/// the counts are read until they settle rather than once.
async fn counts_reaching(app: &TestApp, expected: &[i64]) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = counts(app).await;
        if seen == expected || Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in TABLES {
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"));
        let n: i64 = match &app.database {
            Some(db) => {
                let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.direct_url())
                    .await
                    .expect("PostgreSQL");
                sqlx::query_scalar(sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
            }
            None => {
                let path = app.data_dir.path().join("dragoman.sqlite");
                let url = format!("sqlite://{}?mode=ro", path.display());
                let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                    .await
                    .expect("SQLite");
                sqlx::query_scalar(sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
            }
        };
        out.push(n);
    }
    out
}

/// A client's request under an idempotency key, offered to `interpreter`, accepted, ended and
/// rated.
async fn rated_session(app: &TestApp, client: &Account, interpreter: &Account, key: &str) {
    let created = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(&client.access)
        .header("idempotency-key", key)
        .json(&json!({"language": "es"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), StatusCode::CREATED);
    let offer = app.wait_for_offer(interpreter).await;
    let session = app.accept(interpreter, &offer).await;
    let id = session["id"].as_str().expect("session id");
    let ended = app
        .post_empty_as(&client.access, &format!("/v1/sessions/{id}/end"))
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    let rated = app
        .post_as(
            &client.access,
            &format!("/v1/sessions/{id}/rating"),
            &json!({"stars": 5}),
        )
        .await;
    assert_eq!(rated.status(), StatusCode::CREATED);
}

/// The keys of the retention jobs of the next period.
fn next_keys(clock: &ManualClock) -> (chrono::DateTime<Utc>, Vec<String>) {
    let due = next_retention_due(clock.now());
    (
        due,
        retention_jobs(due).into_iter().map(|j| j.key).collect(),
    )
}

/// Keys of the jobs now in `state`.
async fn keys_in(app: &TestApp, state: JobState) -> Vec<String> {
    JobsAdmin::new(app.engine.job_queue().cloned())
        .jobs(state, 1_000)
        .await
        .expect("jobs")
        .into_iter()
        .map(|j| j.key)
        .collect()
}

/// Waits (up to 30 s) for the schedule to enqueue the next period's retention jobs (they are
/// listed, delayed, like any job), moves the clock to when they are due, and waits (up to 60 s)
/// for all three to have run.
async fn run_next_retention(app: &TestApp, clock: &ManualClock) {
    let (due, keys) = next_keys(clock);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delayed = keys_in(app, JobState::Delayed).await;
        if keys.iter().all(|k| delayed.contains(k)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not scheduled: {keys:?} in {delayed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    clock.advance(due - clock.now());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut live = Vec::new();
        for state in [JobState::Waiting, JobState::Delayed, JobState::Active] {
            live.extend(keys_in(app, state).await);
        }
        if !keys.iter().any(|k| live.contains(k)) {
            break;
        }
        assert!(Instant::now() < deadline, "not run: {keys:?} in {live:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = keys_in(app, JobState::Dead).await;
    assert!(!keys.iter().any(|k| dead.contains(k)), "dead: {dead:?}");
}

async fn retention_jobs_delete_what_is_old_and_keep_the_rest(backend: Backend) {
    let (settings, dir, db) = settings(backend).await;
    delete_what_is_old_and_keep_the_rest(settings, dir, db).await;
}

/// The same on a fleet's configuration: PostgreSQL through PgBouncer, the queue on Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_jobs_run_on_the_redis_queue() {
    let (mut settings, dir, db) = settings(Backend::PgBouncer).await;
    settings.jwt_secret =
        dragoman::config::JwtSecret::Given(b"a secret for the retention tests, 32 bytes+".to_vec());
    settings.redis = Some(dragoman::config::RedisSettings {
        url: std::env::var("DRAGOMAN_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
        prefix: format!("test:{}", uuid::Uuid::new_v4().simple()),
        cluster: false,
    });
    delete_what_is_old_and_keep_the_rest(settings, dir, db).await;
}

async fn delete_what_is_old_and_keep_the_rest(
    mut settings: dragoman::Settings,
    dir: tempfile::TempDir,
    db: Option<dragoman_store_postgres::testing::TestDatabase>,
) {
    settings.retention = TimeDelta::days(90);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = spawn_with_clock(settings, dir, db, clock.clone()).await;
    assert_eq!(Retention::ALL.len(), 3);

    // Old: two sign-ups (a refresh token each), a request under a key, its offer and
    // explanation, its session and rating.
    let old_client = app.signup("client").await;
    let old_interpreter = app.available_interpreter().await;
    rated_session(&app, &old_client, &old_interpreter, "old-key").await;
    // Gone for the day, so that the new request can only go to the new interpreter.
    let gone = app
        .put_as(
            &old_interpreter.access,
            "/v1/interpreters/me/status",
            &json!({"status": "offline"}),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::OK);
    let before = counts(&app).await;
    assert_eq!(before, [2, 1, 1, 1, 1, 1], "{TABLES:?}");

    // 91 days on: the refresh tokens (30 days) have expired, the key and the matching records
    // are past their retention. The same again, new.
    clock.advance(TimeDelta::days(91));
    let new_client = app.signup("client").await;
    let new_interpreter = app.interpreter_speaking(&["es"]).await;
    rated_session(&app, &new_client, &new_interpreter, "new-key").await;

    run_next_retention(&app, &clock).await;
    let after = counts_reaching(&app, &[2, 1, 1, 1, 2, 2]).await;
    assert_eq!(after, [2, 1, 1, 1, 2, 2], "{TABLES:?}");

    // What remains is the new: its request's explanation is still there, the old one's is not;
    // both sessions are still listed.
    let admin = app.admin().await;
    for (client, explained) in [(&old_client, 0), (&new_client, 1)] {
        let sessions: Value = app
            .get_as(&client.access, "/v1/sessions")
            .await
            .json()
            .await
            .expect("JSON");
        let request = sessions["items"][0]["request_id"]
            .as_str()
            .expect("request id");
        let list: Value = app
            .get_as(
                &admin.access,
                &format!("/v1/admin/requests/{request}/explanation"),
            )
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(list["items"].as_array().map(Vec::len), Some(explained));
    }

    // A day later the new key has passed its window; the rest is within its retention.
    clock.advance(TimeDelta::hours(25));
    run_next_retention(&app, &clock).await;
    let mut expected = after.clone();
    expected[1] = 0;
    let later = counts_reaching(&app, &expected).await;
    assert_eq!(later[1], 0, "{TABLES:?}: {later:?}");
    assert_eq!(later[2..], after[2..], "{TABLES:?}: {later:?}");
    app.stop().await;
}
