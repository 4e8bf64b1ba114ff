//! The avatar with the embedded storage: a round trip, and every bad input refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{fetch, png, put, upload};
use crate::common::{Backend, expect_problem, spawn_app};

on_every_backend!(
    avatar_round_trip_makes_avatar_url_real,
    avatar_bad_declarations_are_refused,
    avatar_complete_refuses_what_was_not_declared,
);

async fn avatar_round_trip_makes_avatar_url_real(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup("client").await;
    let me: Value = app
        .get_as(&user.access, "/v1/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["avatar_url"], Value::Null);

    let bytes = png(3000);
    let response = app
        .post_as(
            &user.access,
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": bytes.len()}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("JSON");
    let url = body["upload"]["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!(
            "{}/objects/users/{}/avatar/",
            app.base.replace("127.0.0.1", "localhost"),
            user.id
        )),
        "{url}"
    );
    assert_eq!(body["upload"]["headers"]["Content-Type"], "image/png");
    assert!(body["upload"]["expires_at"].is_string());
    assert_eq!(upload(&body["upload"], bytes.clone()).await, StatusCode::OK);

    let completed = app
        .post_empty_as(&user.access, "/v1/me/avatar/complete")
        .await;
    assert_eq!(completed.status(), StatusCode::OK);
    let completed: Value = completed.json().await.expect("JSON");
    let avatar_url = completed["avatar_url"].as_str().expect("an avatar URL");
    assert_eq!(fetch(avatar_url).await, (StatusCode::OK, bytes.clone()));

    // Wherever the API returns the user, the avatar is there.
    let me: Value = app
        .get_as(&user.access, "/v1/me")
        .await
        .json()
        .await
        .expect("JSON");
    let again = me["avatar_url"].as_str().expect("an avatar URL");
    assert_eq!(fetch(again).await, (StatusCode::OK, bytes));
    let login: Value = app
        .post(
            "/v1/auth/login",
            &json!({"email": user.email, "password": user.password}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert!(login["user"]["avatar_url"].is_string());

    // A completed upload completes once.
    expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    app.stop().await;
}

async fn avatar_bad_declarations_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup("interpreter").await;
    for body in [
        json!({"content_type": "image/gif", "size_bytes": 100}),
        json!({"content_type": "application/pdf", "size_bytes": 100}),
        json!({"content_type": "image/png", "size_bytes": 5 * 1024 * 1024 + 1}),
        json!({"content_type": "image/png", "size_bytes": 0}),
        json!({"content_type": "image/png", "size_bytes": -1}),
        json!({"content_type": "image/png", "size_bytes": 1e30}),
        json!({"content_type": "image/png", "size_bytes": "100"}),
        json!({"content_type": "image/png"}),
        json!({"content_type": "image/png", "size_bytes": 10, "key": "../../etc"}),
    ] {
        let response = app.post_as(&user.access, "/v1/me/avatar", &body).await;
        expect_problem(response, 422).await;
    }
    let anonymous = app
        .post(
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": 10}),
        )
        .await;
    expect_problem(anonymous, 401).await;
    // Nothing asked for: nothing to complete.
    expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    app.stop().await;
}

async fn avatar_complete_refuses_what_was_not_declared(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup("client").await;
    let ask = |size: usize| {
        let app = &app;
        let token = user.access.clone();
        async move {
            let response = app
                .post_as(
                    &token,
                    "/v1/me/avatar",
                    &json!({"content_type": "image/png", "size_bytes": size}),
                )
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: Value = response.json().await.expect("JSON");
            body["upload"].clone()
        }
    };
    // Complete before uploading: 409, and the upload stays possible.
    let first = ask(100).await;
    let missing = expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    assert_eq!(missing["type"], "urn:dragoman:problem:upload-missing");

    // Bytes that are not a PNG under a PNG declaration: refused at complete and removed.
    let mut fake = b"<html>".to_vec();
    fake.resize(100, b' ');
    assert_eq!(upload(&first, fake).await, StatusCode::OK);
    let invalid = expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    assert_eq!(invalid["type"], "urn:dragoman:problem:upload-invalid");
    let after = expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    assert_eq!(
        after["type"], "urn:dragoman:problem:upload-missing",
        "the invalid object was removed"
    );

    // The storage refuses a body of another length and another content type.
    let second = ask(200).await;
    let url = second["url"].as_str().expect("url");
    for len in [199, 201] {
        let status = put(&second, url, png(len), None).await;
        assert!(status.is_client_error(), "{len} bytes for 200: {status}");
    }
    assert_eq!(
        put(&second, url, png(200), Some(("content-type", "image/jpeg"))).await,
        StatusCode::FORBIDDEN
    );
    expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    // The right bytes still go through.
    assert_eq!(upload(&second, png(200)).await, StatusCode::OK);
    let done = app
        .post_empty_as(&user.access, "/v1/me/avatar/complete")
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    app.stop().await;
}
