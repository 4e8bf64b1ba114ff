//! Several instances sharing one PostgreSQL (through PgBouncer): no double assignment under
//! load, and matching carries on when an instance stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Account, Backend, TestApp, settings, spawn_with};
use chrono::TimeDelta;
use dragoman::Settings;
use dragoman::config::JwtSecret;
use dragoman_store_postgres::testing::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

/// Settings for one instance of a fleet on `db`: one signing secret, short timers.
async fn fleet_settings(db: &TestDatabase) -> (Settings, tempfile::TempDir) {
    let (mut settings, dir, own_db) = settings(Backend::PgBouncer).await;
    drop(own_db);
    settings.database = dragoman::config::Database::Postgres {
        url: db.pgbouncer_url(),
        migration_url: db.direct_url(),
        pooler: dragoman_store_postgres::Pooler::Transaction,
        max_connections: 4,
    };
    settings.jwt_secret =
        JwtSecret::Given(b"a fleet shares one signing secret of 32+ bytes".to_vec());
    settings.match_tick = Duration::from_millis(100);
    settings.lease_ttl = Duration::from_secs(2);
    settings.matching.offer_timeout = TimeDelta::seconds(2);
    settings.matching.wrap_up = TimeDelta::seconds(1);
    // Long enough that a request waits out a loaded machine: without Redis the lease holder
    // sees other instances' answers only at its roster's full read (every 5 s), so this fleet
    // matches about one request a second, and CI runs it beside everything else.
    settings.matching.max_wait = TimeDelta::seconds(200);
    (settings, dir)
}

async fn fleet(db: &TestDatabase, n: usize) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for _ in 0..n {
        let (settings, dir) = fleet_settings(db).await;
        apps.push(spawn_with(settings, dir, None).await);
    }
    apps
}

/// Answers offers until told to stop: accepts (and ends the session at once), or declines
/// every fifth one, each time through the next instance in turn.
async fn work(apps: Arc<Vec<TestApp>>, me: Account, stop: Arc<AtomicBool>) -> usize {
    let mut sessions = 0;
    let mut turn = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let app = &apps[turn % apps.len()];
        turn += 1;
        let offers = app.pending_offers(&me).await;
        let Some(offer) = offers.first() else {
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        };
        let id = offer["id"].as_str().unwrap_or_default();
        if turn.is_multiple_of(5) {
            app.post_empty_as(&me.access, &format!("/v1/offers/{id}/decline"))
                .await;
            continue;
        }
        let accepted = app
            .post_empty_as(&me.access, &format!("/v1/offers/{id}/accept"))
            .await;
        if accepted.status() == StatusCode::OK {
            sessions += 1;
            let session: Value = accepted.json().await.unwrap_or_default();
            let other = &apps[turn % apps.len()];
            let end = other
                .post_empty_as(
                    &me.access,
                    &format!(
                        "/v1/sessions/{}/end",
                        session["id"].as_str().unwrap_or_default()
                    ),
                )
                .await;
            assert_eq!(end.status(), StatusCode::OK);
        }
    }
    sessions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_clients_and_ten_interpreters_on_three_instances() {
    let db = TestDatabase::create().await.expect("a database");
    let apps = Arc::new(fleet(&db, 3).await);
    let mut interpreters = Vec::new();
    for i in 0..10 {
        interpreters.push(apps[i % 3].interpreter_speaking(&["es"]).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = interpreters
        .iter()
        .map(|me| tokio::spawn(work(apps.clone(), me.clone(), stop.clone())))
        .collect();

    // 50 clients at once, spread over the instances; every tenth cancels at once.
    let creations = (0..50).map(|i| {
        let apps = apps.clone();
        async move {
            let app = &apps[i % 3];
            let client = app.signup("client").await;
            let created = app
                .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
                .await;
            assert_eq!(created.status(), StatusCode::CREATED);
            let request: Value = created.json().await.expect("JSON");
            let id = request["id"].as_str().expect("id").to_owned();
            if i.is_multiple_of(10) {
                app.post_empty_as(&client.access, &format!("/v1/requests/{id}/cancel"))
                    .await;
            }
            (client, id)
        }
    });
    let requests = futures::future::join_all(creations).await;

    let deadline = Instant::now() + Duration::from_secs(240);
    let mut open = requests.len();
    while open > 0 {
        assert!(Instant::now() < deadline, "{open} requests still open");
        tokio::time::sleep(Duration::from_millis(250)).await;
        open = 0;
        for (i, (client, id)) in requests.iter().enumerate() {
            let r: Value = apps[i % 3]
                .get_as(&client.access, &format!("/v1/requests/{id}"))
                .await
                .json()
                .await
                .expect("JSON");
            let status = r["status"].as_str().unwrap_or_default();
            if !["matched", "expired", "cancelled"].contains(&status) {
                open += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut sessions = 0;
    for w in workers {
        sessions += w.await.expect("worker");
    }
    assert!(
        sessions >= 40,
        "most requests should be matched, got {sessions}"
    );

    // The database's own view: the invariants hold row by row.
    let mut conn = sqlx::PgConnection::connect(&db.direct_url())
        .await
        .expect("connected");
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT interpreter_id FROM sessions WHERE ended_at IS NULL GROUP BY interpreter_id HAVING count(*) > 1) d",
    )
    .fetch_one(&mut conn)
    .await
    .expect("query");
    assert_eq!(doubled, 0, "an interpreter with two open sessions");
    let twice: i64 = sqlx::query_scalar("SELECT count(*) FROM (SELECT request_id FROM sessions GROUP BY request_id HAVING count(*) > 1) d")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(twice, 0, "a request with two sessions");
    let sessions_in_db: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(
        sessions_in_db as usize, sessions,
        "every accepted offer is one session"
    );
    let reoffered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT request_id, interpreter_id FROM offers GROUP BY 1, 2 HAVING count(*) > 1) d",
    )
    .fetch_one(&mut conn)
    .await
    .expect("query");
    assert_eq!(
        reoffered, 0,
        "an interpreter offered the same request twice"
    );
    let still_open: i64 =
        sqlx::query_scalar("SELECT count(*) FROM requests WHERE status IN ('queued', 'offered')")
            .fetch_one(&mut conn)
            .await
            .expect("query");
    assert_eq!(still_open, 0);
    conn.close().await.ok();
    if let Ok(apps) = Arc::try_unwrap(apps) {
        for app in apps {
            app.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pending_offer_outlives_its_instance() {
    let db = TestDatabase::create().await.expect("a database");
    let mut apps = fleet(&db, 2).await;
    let b = apps.pop().expect("b");
    let a = apps.pop().expect("a");
    let first = a.interpreter_speaking(&["it"]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = b.interpreter_speaking(&["it"]).await;
    let client = a.signup("client").await;
    let request: Value = a
        .post_as(&client.access, "/v1/requests", &json!({"language": "it"}))
        .await
        .json()
        .await
        .expect("JSON");
    let offer = a.wait_for_offer(&first).await;
    let expires_at: chrono::DateTime<chrono::Utc> = offer["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("RFC 3339");

    // A stops while the offer is pending; B settles it and offers the request to the next one.
    a.stop().await;
    let next = b.wait_for_offer(&second).await;
    assert_eq!(next["request_id"], request["id"]);
    assert!(b.pending_offers(&first).await.is_empty());
    // Never early: the next offer was made after the first one's deadline. (How late is a
    // matter of load; no time is asserted here. The timers are swept every tick by the holder of
    // the `timers` lease, which B takes over within one lease lifetime.)
    let next_created: chrono::DateTime<chrono::Utc> = next["created_at"]
        .as_str()
        .expect("created_at")
        .parse()
        .expect("RFC 3339");
    assert!(
        next_created >= expires_at,
        "offered again at {next_created}, before the deadline {expires_at}"
    );
    println!(
        "next offer {} after the deadline",
        next_created - expires_at
    );
    b.stop().await;
}
