//! The API with a streaming read replica (DATABASE_READ_URL, scripts/pg-replica) behind the
//! production path (PgBouncer in transaction pooling for the primary): what a caller writes, it
//! reads at once through the routes whose queries go to the replica: availability counts, the
//! session list, the administrators' overview and explanations.

use std::time::Duration;

use crate::common::{Backend, settings, spawn_with};
use dragoman_store_postgres::{Pooler, ReplicaSettings};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_read_their_writes_through_the_replica() {
    let (mut settings, dir, database) = settings(Backend::PgBouncer).await;
    let db = database.as_ref().expect("a PostgreSQL database");
    settings.read_replica = Some(ReplicaSettings {
        url: db
            .replica_url()
            .await
            .expect("the database on the replica (scripts/pg-replica)"),
        pooler: Pooler::None,
        max_connections: 4,
        max_lag: Duration::from_secs(2),
    });
    let app = spawn_with(settings, dir, database).await;
    let admin = app.admin().await;
    let interpreter = app.interpreter_speaking(&["eu"]).await;

    let available = |body: &Value| {
        body["languages"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["code"] == "eu"))
            .and_then(|l| l["available"].as_u64())
            .unwrap_or(0)
    };
    for round in 0..10 {
        let to = if round % 2 == 0 { "away" } else { "available" };
        let put = app
            .put_as(
                &interpreter.access,
                "/v1/interpreters/me/status",
                &json!({"status": to}),
            )
            .await;
        assert_eq!(put.status(), StatusCode::OK);
        let counts: Value = app
            .get_as(&interpreter.access, "/v1/availability")
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            available(&counts),
            u64::from(to == "available"),
            "round {round}: {counts}"
        );
        let overview: Value = app
            .get_as(&admin.access, "/v1/admin/overview")
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            overview["interpreters"]["available"]["eu"]
                .as_u64()
                .unwrap_or(0),
            u64::from(to == "available"),
            "round {round}: {overview}"
        );
    }

    // A session: the client ends it and lists it at once; the administrator reads its offer's
    // explanation at once.
    let client = app.signup("client").await;
    let request: Value = app
        .post_as(
            &client.access,
            "/v1/requests",
            &json!({"language": "eu", "specialization": "medical", "modality": "audio"}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let offer = app.wait_for_offer(&interpreter).await;
    let session = app.accept(&interpreter, &offer).await;
    let id = session["id"].as_str().expect("session id");
    let explained: Value = app
        .get_as(
            &admin.access,
            &format!(
                "/v1/admin/requests/{}/explanation",
                request["id"].as_str().expect("request id")
            ),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        explained["items"][0]["offer_id"], offer["id"],
        "{explained}"
    );
    let end = app
        .post_empty_as(&client.access, &format!("/v1/sessions/{id}/end"))
        .await;
    assert_eq!(end.status(), StatusCode::OK);
    let listed: Value = app
        .get_as(&client.access, "/v1/sessions")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
    assert!(
        listed["items"][0]["ended_at"].is_string(),
        "the end is listed: {listed}"
    );

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("dragoman_db_replica_up 1"),
        "the replica in use: {metrics}"
    );
    app.stop().await;
}
