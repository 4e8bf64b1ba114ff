//! Uploads attacked as an attacker would, each attack shown to fail, with the embedded storage
//! (SQLite and PostgreSQL) and as a fleet (S3 on s3s-fs, PostgreSQL through PgBouncer, Redis):
//! a completed upload's URL used again to replace a verified image with HTML; a PNG signature
//! followed by HTML; downloads a browser would render; more documents than a session may have;
//! more upload URLs than a user may have in an hour; documents after a session is long over; a
//! filename that reads backwards.

use std::sync::Arc;

use dragoman::config::{ObjectsSettings, RedisSettings, Settings};
use dragoman_ports::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{
    ACCESS_KEY, S3Server, SECRET_KEY, html, pdf, png, png_signature_then_html, session, upload,
};
use crate::common::{Backend, TestApp, expect_problem, settings, spawn_with_clock};

/// Where uploads are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// The embedded storage: the server's own signed URLs.
    Local,
    /// S3 (s3s-fs), with Redis for the limiter, bus and queue, as a fleet runs.
    Fleet,
}

/// One test per storage: the embedded one on SQLite and on PostgreSQL, the fleet's on
/// PostgreSQL through PgBouncer.
macro_rules! on_every_storage {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::Storage;
                use crate::common::Backend;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local_sqlite() {
                    super::$name(Backend::Sqlite, Storage::Local).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn local_postgres_through_pgbouncer() {
                    super::$name(Backend::PgBouncer, Storage::Local).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn fleet_s3_postgres_redis() {
                    super::$name(Backend::PgBouncer, Storage::Fleet).await;
                }
            }
        )+
    };
}

on_every_storage!(
    a_completed_upload_url_cannot_replace_the_avatar,
    a_png_signature_followed_by_html_is_refused,
    at_most_twenty_documents_per_session,
    upload_urls_per_user_and_hour_are_limited,
    documents_close_an_hour_after_the_session_ends,
    filenames_with_bidi_controls_are_refused,
);

/// An application on `backend` and `storage`, on a manual clock, with `adjust` applied to its
/// settings; the S3 server (if any) lives as long as the returned guard.
async fn spawn(
    backend: Backend,
    storage: Storage,
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, Arc<ManualClock>, Option<S3Server>) {
    let (mut settings, dir, database) = settings(backend).await;
    let s3 = match storage {
        Storage::Local => None,
        Storage::Fleet => {
            let s3 = S3Server::start().await;
            settings.objects = ObjectsSettings::S3 {
                bucket: "bucket".to_owned(),
                endpoint: Some(s3.endpoint.clone()),
                region: "us-east-1".to_owned(),
                static_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
            };
            settings.jwt_secret =
                dragoman::config::JwtSecret::Given(b"a fleet secret of at least 32 bytes".to_vec());
            settings.redis = Some(RedisSettings {
                url: std::env::var("DRAGOMAN_TEST_REDIS")
                    .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
                prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
                cluster: false,
            });
            Some(s3)
        }
    };
    adjust(&mut settings);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = spawn_with_clock(settings, dir, database, clock.clone()).await;
    (app, clock, s3)
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn ask_avatar_url(app: &TestApp, token: &str, len: usize) -> reqwest::Response {
    app.post_as(
        token,
        "/v1/me/avatar",
        &json!({"content_type": "image/png", "size_bytes": len}),
    )
    .await
}

fn declare(filename: &str, len: usize) -> Value {
    json!({"filename": filename, "content_type": "application/pdf", "size_bytes": len})
}

async fn a_completed_upload_url_cannot_replace_the_avatar(backend: Backend, storage: Storage) {
    let (app, _clock, _s3) = spawn(backend, storage, |_| {}).await;
    let user = app.signup("client").await;
    let image = png(3000);
    let asked = ask_avatar_url(&app, &user.access, image.len()).await;
    assert_eq!(asked.status(), StatusCode::CREATED);
    let asked = json(asked).await;
    assert_eq!(
        upload(&asked["upload"], image.clone()).await,
        StatusCode::OK
    );
    let completed = app
        .post_empty_as(&user.access, "/v1/me/avatar/complete")
        .await;
    assert_eq!(completed.status(), StatusCode::OK);

    // The attack: the same URL, still valid, with the signed type and length, carrying HTML.
    let replaced = upload(&asked["upload"], html(image.len())).await;
    match storage {
        Storage::Local => assert_eq!(replaced, StatusCode::CONFLICT, "the sealed URL"),
        // S3 takes it, under `uploads/`, where nothing is served from.
        Storage::Fleet => assert!(
            replaced == StatusCode::OK || replaced.is_client_error(),
            "{replaced}"
        ),
    }
    let me = json(app.get_as(&user.access, "/v1/me").await).await;
    let avatar_url = me["avatar_url"].as_str().expect("an avatar URL");
    let served = reqwest::get(avatar_url).await.expect("storage answers");
    assert_eq!(served.status(), StatusCode::OK);
    // A download is an attachment of the verified type, never sniffed into HTML.
    assert!(
        header(&served, "content-disposition").starts_with("attachment"),
        "{:?}",
        served.headers()
    );
    assert_eq!(header(&served, "content-type"), "image/png");
    if storage == Storage::Local {
        assert_eq!(header(&served, "x-content-type-options"), "nosniff");
    }
    assert_eq!(served.bytes().await.expect("the avatar").to_vec(), image);
}

async fn a_png_signature_followed_by_html_is_refused(backend: Backend, storage: Storage) {
    let (app, _clock, _s3) = spawn(backend, storage, |_| {}).await;
    let user = app.signup("client").await;
    let fake = png_signature_then_html(3000);
    let asked = json(ask_avatar_url(&app, &user.access, fake.len()).await).await;
    assert_eq!(upload(&asked["upload"], fake).await, StatusCode::OK);
    let refused = expect_problem(
        app.post_empty_as(&user.access, "/v1/me/avatar/complete")
            .await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "urn:dragoman:problem:upload-invalid");
    let me = json(app.get_as(&user.access, "/v1/me").await).await;
    assert_eq!(me["avatar_url"], Value::Null);

    // A document that starts as a PDF and is not one: refused and removed the same way.
    let (session_id, client, _interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    let mut fake = b"%PDF-1.7\n".to_vec();
    fake.extend_from_slice(&html(2000));
    let created = json(
        app.post_as(&client.access, &path, &declare("a.pdf", fake.len()))
            .await,
    )
    .await;
    assert_eq!(upload(&created["upload"], fake).await, StatusCode::OK);
    let id = created["document"]["id"].as_str().expect("id");
    let refused = expect_problem(
        app.post_empty_as(&client.access, &format!("{path}/{id}/complete"))
            .await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "urn:dragoman:problem:upload-invalid");
    // The right file through the same URL is then accepted.
    let real = pdf(2009);
    assert_eq!(upload(&created["upload"], real).await, StatusCode::OK);
    let ready = app
        .post_empty_as(&client.access, &format!("{path}/{id}/complete"))
        .await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(json(ready).await["status"], "ready");
}

async fn at_most_twenty_documents_per_session(backend: Backend, storage: Storage) {
    let (app, _clock, _s3) = spawn(backend, storage, |_| {}).await;
    let (session_id, client, interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    // The participants share the session's quota (the default, 20).
    for n in 0..20 {
        let by = if n % 2 == 0 { &client } else { &interpreter };
        let created = app
            .post_as(&by.access, &path, &declare(&format!("{n}.pdf"), 1000))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "document {n}");
    }
    let refused = expect_problem(
        app.post_as(&client.access, &path, &declare("21.pdf", 1000))
            .await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "urn:dragoman:problem:document-quota");
    let page = json(
        app.get_as(&client.access, &format!("{path}?limit=200"))
            .await,
    )
    .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(20));
}

async fn upload_urls_per_user_and_hour_are_limited(backend: Backend, storage: Storage) {
    let (app, _clock, _s3) = spawn(backend, storage, |s| s.upload_urls_per_hour = 3).await;
    let (session_id, client, interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    for _ in 0..2 {
        let asked = ask_avatar_url(&app, &client.access, 500).await;
        assert_eq!(asked.status(), StatusCode::CREATED);
    }
    let asked = app
        .post_as(&client.access, &path, &declare("c.pdf", 1000))
        .await;
    assert_eq!(asked.status(), StatusCode::CREATED);
    // The fourth URL in the hour, of either kind.
    for refused in [
        ask_avatar_url(&app, &client.access, 500).await,
        app.post_as(&client.access, &path, &declare("d.pdf", 1000))
            .await,
    ] {
        let retry_after: u64 = header(&refused, "retry-after")
            .parse()
            .expect("a Retry-After in seconds");
        assert!((1..=3600).contains(&retry_after), "{retry_after}");
        expect_problem(refused, 429).await;
    }
    // Invalid requests are not counted, and another user has their own hour.
    let invalid = app
        .post_as(
            &client.access,
            "/v1/me/avatar",
            &json!({"content_type": "text/html", "size_bytes": 10}),
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other = ask_avatar_url(&app, &interpreter.access, 500).await;
    assert_eq!(other.status(), StatusCode::CREATED);
}

async fn documents_close_an_hour_after_the_session_ends(backend: Backend, storage: Storage) {
    let (app, clock, _s3) = spawn(backend, storage, |_| {}).await;
    let (session_id, client, interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    let document = pdf(1500);
    let created = json(
        app.post_as(&client.access, &path, &declare("a.pdf", document.len()))
            .await,
    )
    .await;
    assert_eq!(upload(&created["upload"], document).await, StatusCode::OK);
    let id = created["document"]["id"].as_str().expect("id").to_owned();
    let ended = app
        .post_empty_as(&client.access, &format!("/v1/sessions/{session_id}/end"))
        .await;
    assert_eq!(ended.status(), StatusCode::OK);

    // Within the hour after the end: still open.
    clock.advance(chrono::TimeDelta::minutes(59));
    let ready = app
        .post_empty_as(&client.access, &format!("{path}/{id}/complete"))
        .await;
    assert_eq!(ready.status(), StatusCode::OK);
    let pending = json(
        app.post_as(&interpreter.access, &path, &declare("b.pdf", 1000))
            .await,
    )
    .await;
    let pending_id = pending["document"]["id"].as_str().expect("id").to_owned();
    let page = json(app.get_as(&interpreter.access, &path).await).await;
    assert!(page["items"][0]["download_url"].is_string());

    // More than an hour after: no upload URL, no completion, no listing, no download URL.
    clock.advance(chrono::TimeDelta::minutes(2));
    let closed = [
        app.post_as(&client.access, &path, &declare("c.pdf", 1000))
            .await,
        app.post_empty_as(
            &interpreter.access,
            &format!("{path}/{pending_id}/complete"),
        )
        .await,
        app.get_as(&client.access, &path).await,
        app.get_as(&interpreter.access, &format!("{path}/{id}"))
            .await,
    ];
    for response in closed {
        let problem = expect_problem(response, 409).await;
        assert_eq!(problem["type"], "urn:dragoman:problem:documents-closed");
    }
}

async fn filenames_with_bidi_controls_are_refused(backend: Backend, storage: Storage) {
    let (app, _clock, _s3) = spawn(backend, storage, |_| {}).await;
    let (session_id, client, _interpreter) = session(&app).await;
    let path = format!("/v1/sessions/{session_id}/documents");
    // Reads as `invoice_exe.pdf`; is `invoice_fdp.exe`.
    for filename in [
        "invoice_\u{202E}fdp.exe",
        "a\u{2066}b.pdf",
        "\u{200F}report.pdf",
        "x\u{061C}.pdf",
    ] {
        let refused = expect_problem(
            app.post_as(&client.access, &path, &declare(filename, 1000))
                .await,
            422,
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], "filename", "{refused}");
    }
    // Right-to-left text itself is a filename like any other.
    let arabic = app
        .post_as(&client.access, &path, &declare("تقرير.pdf", 1000))
        .await;
    assert_eq!(arabic.status(), StatusCode::CREATED);
}
