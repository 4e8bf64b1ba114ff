//! `avatar_url` in `request.matched`: the interpreter's avatar as a signed download URL.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::{Backend, spawn_app};
use crate::on_every_backend;
use super::support::{fetch, png, upload};

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
    let mut request = format!("{}/v1/ws", app.base.replace("http://", "ws://"))
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", client.access).parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded");
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
    let matched = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let event: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if event["type"] == "request.matched" {
                break event;
            }
        }
    };
    let avatar = matched["data"]["interpreter"]["avatar_url"]
        .as_str()
        .expect("the interpreter's avatar URL");
    assert_eq!(fetch(avatar).await, (StatusCode::OK, bytes));
    app.stop().await;
}
