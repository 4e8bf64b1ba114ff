//! Operations endpoints and the envelope every answer shares.

mod common;

use common::{Backend, expect_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;

on_every_backend!(
    health_ready_and_metrics,
    unknown_routes_and_methods_are_problems
);

async fn health_ready_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(
        health.json::<Value>().await.expect("JSON"),
        serde_json::json!({"status": "ok"})
    );

    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["dependencies"][0]["name"], "database");
    assert_eq!(ready["dependencies"][0]["status"], "up");

    app.signup("client").await;
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total{")
                && l.contains("route=\"/v1/auth/signup\"")
                && l.contains("status=\"201\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{"),
        "{metrics}"
    );

    // A caller's request id is kept and echoed.
    let traced = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "lb-trace-42")
        .send()
        .await
        .expect("sent");
    assert_eq!(traced.headers()["x-request-id"], "lb-trace-42");
    app.stop().await;
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_problem(app.get("/v1/nothing-here").await, 404).await;
    expect_problem(app.get("/v1/auth/login").await, 405).await;
    let bare_path_scan = app.get("/../../etc/passwd").await;
    assert_eq!(bare_path_scan.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn ready_reports_a_database_that_is_gone() {
    let (settings, dir, db) = common::settings(Backend::PgBouncer).await;
    let app = common::spawn_with(settings, dir, db).await;
    let name = app.database.as_ref().expect("a database").name.clone();
    // Drop the database under the running instance.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(
        &dragoman_store_postgres::testing::admin_url(),
    )
    .await
    .expect("admin connection");
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)")),
    )
    .await
    .expect("dropped");
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.expect("JSON");
    assert_eq!(body["dependencies"][0]["status"], "down");
    // The load balancer's check stays green: a database outage must not cycle every task.
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
}
