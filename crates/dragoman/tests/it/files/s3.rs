//! S3 mode against s3s-fs, which verifies SigV4: the upload URLs point at the storage endpoint,
//! the bytes go there and never through the API process, and `complete` checks what arrived.

use dragoman::config::ObjectsSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{ACCESS_KEY, S3Server, SECRET_KEY, fetch, pdf, png, put, session, upload};
use crate::common::{Backend, TestApp, expect_problem, settings, spawn_with};

on_every_backend!(
    s3_uploads_go_to_the_storage_not_the_api,
    s3_refuses_what_it_did_not_sign,
);

pub async fn spawn_s3(backend: Backend) -> (TestApp, S3Server) {
    let s3 = S3Server::start().await;
    let (mut settings, dir, database) = settings(backend).await;
    settings.objects = ObjectsSettings::S3 {
        bucket: "bucket".to_owned(),
        endpoint: Some(s3.endpoint.clone()),
        region: "us-east-1".to_owned(),
        static_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
    };
    (spawn_with(settings, dir, database).await, s3)
}

async fn s3_uploads_go_to_the_storage_not_the_api(backend: Backend) {
    let (app, s3) = spawn_s3(backend).await;
    let user = app.signup("client").await;
    let bytes = png(4096);
    let asked: Value = app
        .post_as(
            &user.access,
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": bytes.len()}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let url = asked["upload"]["url"].as_str().expect("url");
    // Uploads land under `uploads/` until `complete` seals them.
    let expected = format!("{}/bucket/uploads/users/{}/avatar/", s3.endpoint, user.id);
    assert!(
        url.starts_with(&expected),
        "the URL names the storage: {url}"
    );
    assert!(!url.starts_with(&app.base));
    assert!(url.contains("X-Amz-Signature="), "{url}");
    // The API process serves no storage routes in S3 mode: the bytes cannot go through it.
    let through_api = url.replacen(&s3.endpoint, &app.base, 1);
    let refused = put(&asked["upload"], &through_api, bytes.clone(), None).await;
    assert_eq!(refused, StatusCode::NOT_FOUND);

    assert_eq!(
        upload(&asked["upload"], bytes.clone()).await,
        StatusCode::OK
    );
    // The object is on the storage server's disk.
    let key_path = url
        .strip_prefix(&format!("{}/bucket/", s3.endpoint))
        .and_then(|rest| rest.split('?').next())
        .expect("a key");
    let stored =
        std::fs::read(s3.dir.path().join("bucket").join(key_path)).expect("stored by s3s-fs");
    assert_eq!(stored, bytes);

    let me = app
        .post_empty_as(&user.access, "/v1/me/avatar/complete")
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("JSON");
    let avatar = me["avatar_url"].as_str().expect("an avatar URL");
    assert!(avatar.starts_with(&s3.endpoint), "{avatar}");
    assert_eq!(fetch(avatar).await, (StatusCode::OK, bytes));

    // A session document the same way.
    let (session_id, client, interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    let document = pdf(10_000);
    let created: Value = app
        .post_as(&client.access, &path, &json!({"filename": "report.pdf", "content_type": "application/pdf", "size_bytes": document.len()}))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(
        created["upload"]["url"]
            .as_str()
            .expect("url")
            .starts_with(&s3.endpoint)
    );
    assert_eq!(
        upload(&created["upload"], document.clone()).await,
        StatusCode::OK
    );
    let id = created["document"]["id"].as_str().expect("id");
    let ready = app
        .post_empty_as(&interpreter.access, &format!("{path}/{id}/complete"))
        .await;
    assert_eq!(ready.status(), StatusCode::OK);
    let page: Value = app
        .get_as(&interpreter.access, &path)
        .await
        .json()
        .await
        .expect("JSON");
    let download = page["items"][0]["download_url"]
        .as_str()
        .expect("download URL");
    assert_eq!(fetch(download).await, (StatusCode::OK, document));
    app.stop().await;
}

async fn s3_refuses_what_it_did_not_sign(backend: Backend) {
    let (app, _s3) = spawn_s3(backend).await;
    let (session_id, client, _interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    let ask = || async {
        let created: Value = app
            .post_as(
                &client.access,
                &path,
                &json!({"filename": "a.png", "content_type": "image/png", "size_bytes": 500}),
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
    let url = upload_a["url"].as_str().expect("url");
    let mut tampered = url.to_owned();
    let last = tampered.pop().expect("a URL");
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        put(upload_a, &tampered, png(500), None).await,
        StatusCode::FORBIDDEN
    );
    let id_a = first["document"]["id"].as_str().expect("id");
    let id_b = second["document"]["id"].as_str().expect("id");
    assert_eq!(
        put(upload_a, &url.replace(id_a, id_b), png(500), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(
            upload_a,
            url,
            png(500),
            Some(("content-type", "image/jpeg"))
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let short = put(upload_a, url, png(499), None).await;
    assert!(short.is_client_error(), "{short}");
    for id in [id_a, id_b] {
        expect_problem(
            app.post_empty_as(&client.access, &format!("{path}/{id}/complete"))
                .await,
            409,
        )
        .await;
    }
    // Bytes that are not what was declared are refused at complete and removed.
    let mut fake = b"%PDF-1.4".to_vec();
    fake.resize(500, 0);
    assert_eq!(upload(upload_a, fake).await, StatusCode::OK);
    let invalid = expect_problem(
        app.post_empty_as(&client.access, &format!("{path}/{id_a}/complete"))
            .await,
        409,
    )
    .await;
    assert_eq!(invalid["type"], "urn:dragoman:problem:upload-invalid");
    let gone = expect_problem(
        app.post_empty_as(&client.access, &format!("{path}/{id_a}/complete"))
            .await,
        409,
    )
    .await;
    assert_eq!(gone["type"], "urn:dragoman:problem:upload-missing");
    app.stop().await;
}
