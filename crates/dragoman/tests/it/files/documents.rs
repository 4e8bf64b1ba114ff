//! Session documents with the embedded storage: participants only, a round trip, and the
//! storage refusing every URL it did not sign for that request.

use std::sync::Arc;

use dragoman_ports::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{fetch, jpeg, pdf, png, put, session, upload};
use crate::common::{Backend, expect_problem, settings, spawn_app, spawn_with_clock};

on_every_backend!(
    document_round_trip_for_both_participants,
    strangers_get_404_for_every_document_route,
    bad_document_declarations_are_refused,
    storage_refuses_urls_it_did_not_sign,
    expired_upload_url_is_refused,
);

fn declare(filename: &str, content_type: &str, size: usize) -> Value {
    json!({"filename": filename, "content_type": content_type, "size_bytes": size})
}

async fn document_round_trip_for_both_participants(backend: Backend) {
    let app = spawn_app(backend).await;
    let (session_id, client, interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    // Larger than the JSON body limit (64 KiB): the storage routes stream past it.
    let bytes = pdf(300_000);
    let response = app
        .post_as(
            &client.access,
            &path,
            &declare(
                "../../etc/passwd consent.pdf",
                "application/pdf",
                bytes.len(),
            ),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("JSON");
    let document = &created["document"];
    let id = document["id"].as_str().expect("id");
    assert_eq!(document["status"], "pending");
    assert_eq!(document["filename"], "../../etc/passwd consent.pdf");
    assert_eq!(document["download_url"], Value::Null);
    let url = created["upload"]["url"].as_str().expect("url");
    assert!(
        url.contains(&format!("/objects/sessions/{session_id}/documents/{id}?")),
        "the key is made of ids only: {url}"
    );

    // Listed as pending before completion, without a download URL.
    let page: Value = app
        .get_as(&interpreter.access, &path)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["items"][0]["status"], "pending");
    expect_problem(
        app.post_empty_as(&client.access, &format!("{path}/{id}/complete"))
            .await,
        409,
    )
    .await;

    assert_eq!(
        upload(&created["upload"], bytes.clone()).await,
        StatusCode::OK
    );
    let completed = app
        .post_empty_as(&interpreter.access, &format!("{path}/{id}/complete"))
        .await;
    assert_eq!(completed.status(), StatusCode::OK);
    let completed: Value = completed.json().await.expect("JSON");
    assert_eq!(completed["status"], "ready");
    assert_eq!(completed["uploaded_by"], client.id.as_str());

    for account in [&client, &interpreter] {
        let page: Value = app
            .get_as(&account.access, &path)
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
        let download = page["items"][0]["download_url"]
            .as_str()
            .expect("a download URL");
        assert_eq!(fetch(download).await, (StatusCode::OK, bytes.clone()));
    }
    let one: Value = app
        .get_as(&client.access, &format!("{path}/{id}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(one["status"], "ready");
    // Completing again changes nothing.
    let again = app
        .post_empty_as(&client.access, &format!("{path}/{id}/complete"))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    app.stop().await;
}

async fn strangers_get_404_for_every_document_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let (session_id, client, _interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    let created: Value = app
        .post_as(&client.access, &path, &declare("a.png", "image/png", 100))
        .await
        .json()
        .await
        .expect("JSON");
    let id = created["document"]["id"].as_str().expect("id").to_owned();
    assert_eq!(upload(&created["upload"], png(100)).await, StatusCode::OK);

    let stranger = app.signup("client").await;
    let admin = app.admin().await;
    for account in [&stranger, &admin] {
        expect_problem(
            app.post_as(&account.access, &path, &declare("b.png", "image/png", 100))
                .await,
            404,
        )
        .await;
        expect_problem(app.get_as(&account.access, &path).await, 404).await;
        expect_problem(
            app.get_as(&account.access, &format!("{path}/{id}")).await,
            404,
        )
        .await;
        expect_problem(
            app.post_empty_as(&account.access, &format!("{path}/{id}/complete"))
                .await,
            404,
        )
        .await;
    }
    // Unknown sessions and documents, and ids that are not ids, look the same.
    let unknown = format!("/v1/sessions/{}/documents", uuid::Uuid::now_v7());
    expect_problem(
        app.post_as(
            &client.access,
            &unknown,
            &declare("b.png", "image/png", 100),
        )
        .await,
        404,
    )
    .await;
    expect_problem(
        app.get_as(&client.access, "/v1/sessions/not-an-id/documents")
            .await,
        404,
    )
    .await;
    expect_problem(
        app.get_as(&client.access, &format!("{path}/{}", uuid::Uuid::now_v7()))
            .await,
        404,
    )
    .await;
    expect_problem(
        app.post_empty_as(&client.access, &format!("{path}/x/complete"))
            .await,
        404,
    )
    .await;
    app.stop().await;
}

async fn bad_document_declarations_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (session_id, client, _interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    for body in [
        declare("a.exe", "application/octet-stream", 100),
        declare("a.html", "text/html", 100),
        declare("a.pdf", "application/pdf", 20 * 1024 * 1024 + 1),
        declare("a.pdf", "application/pdf", 0),
        json!({"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": -5}),
        json!({"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 1e300}),
        declare("", "application/pdf", 10),
        declare("line\nbreak.pdf", "application/pdf", 10),
        declare(&"x".repeat(256), "application/pdf", 10),
        json!({"content_type": "application/pdf", "size_bytes": 10}),
    ] {
        expect_problem(app.post_as(&client.access, &path, &body).await, 422).await;
    }
    // An invalid body is 422 even for a session the caller cannot see (body before visibility).
    let stranger = app.signup("client").await;
    expect_problem(
        app.post_as(&stranger.access, &path, &declare("a", "text/html", 1))
            .await,
        422,
    )
    .await;
    let page: Value = app
        .get_as(&client.access, &path)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["items"], json!([]), "nothing was created");
    app.stop().await;
}

async fn storage_refuses_urls_it_did_not_sign(backend: Backend) {
    let app = spawn_app(backend).await;
    let (session_id, client, _interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    let ask = || async {
        let created: Value = app
            .post_as(
                &client.access,
                &path,
                &declare("scan.jpg", "image/jpeg", 1000),
            )
            .await
            .json()
            .await
            .expect("JSON");
        created
    };
    let first = ask().await;
    let second = ask().await;
    let upload_a = &first["upload"];
    let url_a = upload_a["url"].as_str().expect("url");
    let jpeg = jpeg(1000);

    // An altered signature.
    let mut tampered = url_a.to_owned();
    let last = tampered.pop().expect("a URL");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        put(upload_a, &tampered, jpeg.clone(), None).await,
        StatusCode::FORBIDDEN
    );
    // The URL of one document used for another's key.
    let id_a = first["document"]["id"].as_str().expect("id");
    let id_b = second["document"]["id"].as_str().expect("id");
    let other_key = url_a.replace(id_a, id_b);
    assert_eq!(
        put(upload_a, &other_key, jpeg.clone(), None).await,
        StatusCode::FORBIDDEN
    );
    // Another content type, and another length.
    assert_eq!(
        put(
            upload_a,
            url_a,
            jpeg.clone(),
            Some(("content-type", "application/pdf"))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let status = put(upload_a, url_a, jpeg[..999].to_vec(), None).await;
    assert!(status.is_client_error(), "a short body: {status}");
    // Nothing became visible: neither document completes.
    for id in [id_a, id_b] {
        expect_problem(
            app.post_empty_as(&client.access, &format!("{path}/{id}/complete"))
                .await,
            409,
        )
        .await;
    }
    // A download URL cannot be turned into an upload.
    assert_eq!(upload(upload_a, jpeg.clone()).await, StatusCode::OK);
    let ready: Value = app
        .post_empty_as(&client.access, &format!("{path}/{id_a}/complete"))
        .await
        .json()
        .await
        .expect("JSON");
    let download = ready["download_url"].as_str().expect("download URL");
    assert_eq!(
        put(upload_a, download, jpeg, None).await,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

async fn expired_upload_url_is_refused(backend: Backend) {
    let (settings, dir, database) = settings(backend).await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = spawn_with_clock(settings, dir, database, clock.clone()).await;
    let user = app.signup("client").await;
    let created: Value = app
        .post_as(
            &user.access,
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": 64}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    clock.advance(chrono::TimeDelta::seconds(301));
    assert_eq!(
        upload(&created["upload"], png(64)).await,
        StatusCode::FORBIDDEN
    );
    expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    app.stop().await;
}
