//! `avatar_url` in `request.matched`: the interpreter's avatar as a signed download URL.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{fetch, png, upload};
use crate::common::ws::{connect, next_of};
use crate::common::{Backend, spawn_app};

on_every_backend!(request_matched_carries_the_interpreters_avatar);

async fn request_matched_carries_the_interpreters_avatar(backend: Backend) {
    let app = spawn_app(backend).await;
    let interpreter = app.available_interpreter().await;
    let bytes = png(700);
    let asked: Value = app
        .post_as(
            &interpreter.access,
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": 700}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        upload(&asked["upload"], bytes.clone()).await,
        StatusCode::OK
    );
    let done = app
        .post_empty_as(&interpreter.access, "/v1/me/avatar/complete")
        .await;
    assert_eq!(done.status(), StatusCode::OK);

    let client = app.signup("client").await;
    let mut socket = connect(&app, &client).await;
    let created = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let offer = app.wait_for_offer(&interpreter).await;
    let accepted = app
        .post_empty_as(
            &interpreter.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let matched = next_of(&mut socket, "request.matched").await;
    let avatar = matched["data"]["interpreter"]["avatar_url"]
        .as_str()
        .expect("the interpreter's avatar URL");
    assert_eq!(fetch(avatar).await, (StatusCode::OK, bytes));
    app.stop().await;
}
