//! Two instances sharing PostgreSQL (through PgBouncer) and Redis: events cross instances,
//! resume works from either, login limits hold across them, a user's sockets are capped across
//! them, and a ticket taken on one opens a socket on the other, once.

use std::time::Duration;

use crate::common::ws::{
    closed_with, connect, next_of, open, refused, send, still_answers, until_probe_answered, ws_url,
};
use crate::common::{Backend, TestApp, expect_problem, settings, spawn_with};
use dragoman::config::{JwtSecret, RedisSettings};
use dragoman_domain::UserId;
use dragoman_ports::{AvailabilityCache, CachedStatus, ConnectionRegistry, SocketId};
use dragoman_redis::{RedisAvailability, RedisConnections};
use dragoman_store_postgres::testing::TestDatabase;
use serde_json::{Value, json};

async fn pair() -> (TestApp, TestApp, TestDatabase) {
    pair_in(&format!("test:{}:", uuid::Uuid::new_v4().simple())).await
}

fn redis_url() -> String {
    std::env::var("DRAGOMAN_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

async fn pair_in(prefix: &str) -> (TestApp, TestApp, TestDatabase) {
    let prefix = prefix.to_owned();
    let db = TestDatabase::create().await.expect("a database");
    let mut apps = Vec::new();
    for _ in 0..2 {
        let (mut s, dir, own) = settings(Backend::PgBouncer).await;
        drop(own);
        s.database = dragoman::config::Database::Postgres {
            url: db.pgbouncer_url(),
            migration_url: db.direct_url(),
            pooler: dragoman_store_postgres::Pooler::Transaction,
            max_connections: 4,
        };
        s.jwt_secret = JwtSecret::Given(b"one secret for the whole fleet, 32 bytes+".to_vec());
        s.redis = Some(RedisSettings {
            url: redis_url(),
            prefix: prefix.clone(),
            cluster: false,
        });
        s.match_tick = Duration::from_millis(100);
        s.http.login_failures_per_account = 3;
        apps.push(spawn_with(s, dir, None).await);
    }
    let b = apps.pop().expect("b");
    let a = apps.pop().expect("a");
    (a, b, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_cross_instances_and_resume_anywhere() {
    let (a, b, _db) = pair().await;
    let ready: Value = a.get("/ready").await.json().await.expect("JSON");
    assert_eq!(ready["status"], "ready", "{ready}");
    let interpreter = a.interpreter_speaking(&["es"]).await;
    let client = b.signup("client").await;
    let mut on_a = connect(&a, &interpreter).await;
    let mut on_b = connect(&b, &client).await;

    b.post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    let offer = next_of(&mut on_a, "offer.created").await;
    let accepted = a
        .post_empty_as(
            &interpreter.access,
            &format!(
                "/v1/offers/{}/accept",
                offer["data"]["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let matched = next_of(&mut on_b, "request.matched").await;
    assert_eq!(
        matched["data"]["interpreter"]["id"],
        interpreter.id.as_str()
    );

    // The interpreter reconnects to the other instance and resumes from the start: every event
    // it had on A, with the same ids.
    // What A had sent before it answered a probe, and what B replays before it answers one (it
    // answers a connection's messages in order, the replay included).
    let mut seen_on_a = vec![offer["id"].as_u64().expect("id")];
    seen_on_a.extend(
        until_probe_answered(&mut on_a)
            .await
            .iter()
            .filter_map(|v| v["id"].as_u64()),
    );
    drop(on_a);
    let mut on_b2 = connect(&b, &interpreter).await;
    send(&mut on_b2, json!({"type": "resume", "after": 0})).await;
    let replayed: Vec<u64> = until_probe_answered(&mut on_b2)
        .await
        .iter()
        .filter_map(|v| v["id"].as_u64())
        .collect();
    for id in &seen_on_a {
        assert!(
            replayed.contains(id),
            "event {id} seen on A is missing from the replay on B: {replayed:?}"
        );
    }
    let mut sorted = replayed.clone();
    sorted.sort_unstable();
    assert_eq!(replayed, sorted, "replayed in order");
    assert_eq!(replayed.first(), Some(&1));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn login_limits_hold_across_instances() {
    let (a, b, _db) = pair().await;
    let account = a.signup("client").await;
    let wrong = json!({"email": account.email, "password": "not the password"});
    for app in [&a, &b, &a] {
        expect_problem(app.post("/v1/auth/login", &wrong).await, 401).await;
    }
    let right = json!({"email": account.email, "password": account.password});
    expect_problem(b.post("/v1/auth/login", &right).await, 429).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interpreter_on_a_stopped_instance_goes_offline_on_the_other() {
    let db = TestDatabase::create().await.expect("a database");
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let mut apps = Vec::new();
    for _ in 0..2 {
        let (mut s, dir, own) = settings(Backend::PgBouncer).await;
        drop(own);
        s.database = dragoman::config::Database::Postgres {
            url: db.pgbouncer_url(),
            migration_url: db.direct_url(),
            pooler: dragoman_store_postgres::Pooler::Transaction,
            max_connections: 4,
        };
        s.jwt_secret = JwtSecret::Given(b"one secret for the whole fleet, 32 bytes+".to_vec());
        s.redis = Some(RedisSettings {
            url: std::env::var("DRAGOMAN_TEST_REDIS")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
            prefix: prefix.clone(),
            cluster: false,
        });
        s.ws.presence_grace = Duration::from_secs(2);
        s.lease_ttl = Duration::from_secs(1);
        apps.push(spawn_with(s, dir, None).await);
    }
    let b = apps.pop().expect("b");
    let a = apps.pop().expect("a");
    let interpreter = a.interpreter_speaking(&["pl"]).await;
    let socket = connect(&a, &interpreter).await;
    // Connected on A: the sweeps see A's renewed mark and leave the interpreter available. The
    // witness that they ran past the grace period: an interpreter made available later, and
    // never connected, goes offline.
    let witness = b.interpreter_speaking(&["pl"]).await;
    b.wait_for_status(&witness, "offline").await;
    let me: Value = b
        .get_as(&interpreter.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["status"]["status"], "available");
    a.stop().await;
    drop(socket);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let me: Value = b
            .get_as(&interpreter.access, "/v1/interpreters/me")
            .await
            .json()
            .await
            .expect("JSON");
        if me["status"]["status"] == "offline" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}",
            me["status"]["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.stop().await;
}

/// Polls `holders` until it answers `expected` (records change as sockets close).
async fn wait_holders(registry: &RedisConnections, user: UserId, expected: Vec<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let held = registry.holders(user).await.expect("read");
        if held == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "holders {held:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seed_cache_and_the_connection_registry_are_in_redis() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (a, b, _db) = pair_in(&prefix).await;
    let (_, manager) = dragoman_redis::connect(&redis_url()).await.expect("Redis");
    let cache = RedisAvailability::new(manager.clone(), &prefix);
    let registry = RedisConnections::new(manager, &prefix);

    let interpreter = a.interpreter_speaking(&["es", "fr"]).await;
    let id = UserId(interpreter.id.parse().expect("uuid"));
    let expected = |status: &str| CachedStatus {
        status: status.to_owned(),
        languages: vec!["es".to_owned(), "fr".to_owned()],
    };
    assert_eq!(
        cache.get(id).await.expect("read"),
        Some(expected("available"))
    );
    // A change made through the other instance is mirrored too.
    b.put_as(
        &interpreter.access,
        "/v1/interpreters/me/status",
        &json!({"status": "away"}),
    )
    .await;
    assert_eq!(cache.get(id).await.expect("read"), Some(expected("away")));

    let (on_a, on_b) = (
        a.engine.instance_id().to_owned(),
        b.engine.instance_id().to_owned(),
    );
    let socket_a = connect(&a, &interpreter).await;
    let _socket_b = connect(&b, &interpreter).await;
    let mut both = vec![on_a.clone(), on_b.clone()];
    both.sort();
    wait_holders(&registry, id, both).await;
    drop(socket_a);
    wait_holders(&registry, id, vec![on_b]).await;
    // B drains at its stop: nobody is held any more.
    b.stop().await;
    wait_holders(&registry, id, Vec::new()).await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sixth_socket_closes_the_first_on_the_other_instance() {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (a, b, _db) = pair_in(&prefix).await;
    let (_, manager) = dragoman_redis::connect(&redis_url()).await.expect("Redis");
    let registry = RedisConnections::new(manager, &prefix);
    let client = a.signup("client").await;
    let id = UserId(client.id.parse().expect("uuid"));

    // The first on A, then alternating; each served before the next opens.
    let mut sockets = Vec::new();
    for n in 0..5 {
        let mut socket = connect(if n % 2 == 0 { &a } else { &b }, &client).await;
        still_answers(&mut socket).await;
        sockets.push(socket);
    }
    let recorded = registry.sockets(id).await.expect("read");
    assert_eq!(recorded.len(), 5, "{recorded:?}");
    let first = recorded[0].clone();
    assert_eq!(first.instance, a.engine.instance_id());

    // The sixth, on B, closes the first, on A.
    let mut sixth = connect(&b, &client).await;
    let (code, reason) = closed_with(&mut sockets[0]).await;
    assert_eq!(u16::from(code), 4008, "{reason}");
    for socket in sockets.iter_mut().skip(1) {
        still_answers(socket).await;
    }
    still_answers(&mut sixth).await;
    let now = registry.sockets(id).await.expect("read");
    assert_eq!(now.len(), 5, "{now:?}");
    assert!(!now.contains(&first));
    assert_eq!(now[..4], recorded[1..]);
    assert!(matches!(&now[4], SocketId { instance, .. } if instance == b.engine.instance_id()));
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_taken_on_one_instance_opens_a_socket_on_the_other_once() {
    let (a, b, _db) = pair().await;
    let client = a.signup("client").await;
    let taken: Value = a
        .post_empty_as(&client.access, "/v1/ws/ticket")
        .await
        .json()
        .await
        .expect("JSON");
    let ticket = taken["ticket"].as_str().expect("a ticket");
    let url = |app: &TestApp| ws_url(app, &format!("ticket={ticket}"));
    // Upgraded on B with A's ticket.
    let mut socket = open(&url(&b)).await;
    still_answers(&mut socket).await;
    for app in [&a, &b] {
        assert_eq!(
            refused(&url(app)).await,
            401,
            "a used ticket opened a socket"
        );
    }
    a.stop().await;
    b.stop().await;
}
