//! What administrators see: the explanation of every offer, and the live overview.

use crate::common::{Backend, expect_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    every_offer_is_explained,
    overview_counts_live_state_and_match_times
);

async fn every_offer_is_explained(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let chosen = app.interpreter_speaking(&["pt"]).await;
    let resting = app.interpreter_speaking(&["pt"]).await;
    let away = app
        .put_as(
            &resting.access,
            "/v1/interpreters/me/status",
            &json!({"status": "away"}),
        )
        .await;
    assert_eq!(away.status(), StatusCode::OK);
    let client = app.signup("client").await;
    let request: Value = app
        .post_as(
            &client.access,
            "/v1/requests",
            &json!({"language": "pt", "specialization": "medical", "modality": "audio"}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let offer = app.wait_for_offer(&chosen).await;
    let id = request["id"].as_str().expect("id");

    let list: Value = app
        .get_as(
            &admin.access,
            &format!("/v1/admin/requests/{id}/explanation"),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["offer_id"], offer["id"]);
    let explanation = &items[0]["explanation"];
    assert_eq!(explanation["chosen"], chosen.id.as_str());
    assert_eq!(
        explanation["eligible"][0]["interpreter_id"],
        chosen.id.as_str()
    );
    assert_eq!(explanation["eligible"].as_array().map(Vec::len), Some(1));
    let excluded = explanation["excluded"].as_array().expect("excluded");
    assert!(
        excluded
            .iter()
            .any(|e| e.to_string().contains(resting.id.as_str())
                && e.to_string().contains("not_available")),
        "{explanation}"
    );
    // Nobody here is offline: nobody is only counted.
    assert_eq!(explanation["excluded_counts"], json!({}), "{explanation}");
    let openapi: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    let body = &openapi["components"]["schemas"]["ExplanationBody"];
    assert_eq!(
        body["properties"]["excluded_counts"]["additionalProperties"]["type"], "integer",
        "{body}"
    );
    assert_eq!(
        openapi["components"]["schemas"]["ExplanationView"]["properties"]["explanation"]["$ref"],
        "#/components/schemas/ExplanationBody"
    );

    expect_problem(
        app.get_as(
            &admin.access,
            &format!("/v1/admin/requests/{}/explanation", uuid::Uuid::now_v7()),
        )
        .await,
        404,
    )
    .await;
    expect_problem(
        app.get_as(
            &chosen.access,
            &format!("/v1/admin/requests/{id}/explanation"),
        )
        .await,
        403,
    )
    .await;
    // Admins may read any request.
    assert_eq!(
        app.get_as(&admin.access, &format!("/v1/requests/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

async fn overview_counts_live_state_and_match_times(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin().await;
    let interpreter = app.interpreter_speaking(&["ko"]).await;
    app.interpreter_speaking(&["ko", "ja"]).await;
    let client = app.signup("client").await;
    app.post_as(&client.access, "/v1/requests", &json!({"language": "ko"}))
        .await;
    let offer = app.wait_for_offer(&interpreter).await;
    let accepted = app
        .post_empty_as(
            &interpreter.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let session: Value = accepted.json().await.expect("JSON");
    let waiting_client = app.signup("client").await;
    app.post_as(
        &waiting_client.access,
        "/v1/requests",
        &json!({"language": "sw"}),
    )
    .await;

    let overview: Value = app
        .get_as(&admin.access, "/v1/admin/overview")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(overview["interpreters"]["busy"]["ko"], 1, "{overview}");
    assert_eq!(overview["interpreters"]["available"]["ja"], 1, "{overview}");
    assert_eq!(overview["waiting"]["sw"], 1, "{overview}");
    assert_eq!(overview["match_time_last_hour"]["count"], 1);
    assert_eq!(
        overview["match_time_last_hour"]["p50_ms"],
        session["match_time_ms"]
    );
    assert_eq!(
        overview["match_time_last_hour_by_language"]["ko"]["p95_ms"],
        session["match_time_ms"]
    );
    // No dead job yet, in the embedded queue or in PostgreSQL's.
    assert_eq!(overview["dead_jobs"], 0, "{overview}");
    expect_problem(app.get_as(&client.access, "/v1/admin/overview").await, 403).await;
    app.stop().await;
}
