//! Abandoned uploads: an upload handed out and never completed is removed (object and record)
//! once the abandon delay has passed on the clock, by the job its hand-out scheduled; completed
//! uploads stay. Embedded (SQLite, its job table, local files) and fleet (PostgreSQL through
//! PgBouncer, the Redis queue, S3). What must not have happened yet is checked once an earlier
//! upload's job, due before, has run: nothing waits for real time to pass.

use std::sync::Arc;
use std::time::Duration;

use dragoman::config::{ObjectsSettings, RedisSettings};
use dragoman_ports::{JobState, ManualClock, UPLOAD_SWEEP};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{ACCESS_KEY, S3Server, SECRET_KEY, fetch, pdf, png, session, upload};
use crate::common::{Backend, TestApp, settings, spawn_with_clock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_uploads_are_removed_embedded() {
    let (settings, dir, database) = settings(Backend::Sqlite).await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = spawn_with_clock(settings, dir, database, clock.clone()).await;
    let objects = app.data_dir.path().join("objects/data");
    abandoned_uploads_are_removed(&app, &clock, |key| objects.join(key).is_file()).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_uploads_are_removed_fleet() {
    let s3 = S3Server::start().await;
    let (mut settings, dir, database) = settings(Backend::PgBouncer).await;
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
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = spawn_with_clock(settings, dir, database, clock.clone()).await;
    let bucket = s3.dir.path().join("bucket");
    // Uploads not completed are under `uploads/` until `complete` seals them.
    abandoned_uploads_are_removed(&app, &clock, |key| {
        bucket.join("uploads").join(key).is_file()
    })
    .await;
    app.stop().await;
}

fn key_of(upload: &Value) -> String {
    let url = upload["url"].as_str().expect("url");
    let path = url.split('?').next().expect("a path");
    let start = path
        .find("/users/")
        .or_else(|| path.find("/sessions/"))
        .expect("a key in the URL");
    path[start + 1..].to_owned()
}

async fn abandoned_uploads_are_removed(
    app: &TestApp,
    clock: &ManualClock,
    stored: impl Fn(&str) -> bool,
) {
    let (session_id, client, interpreter) = session(app).await;
    // The witness that the jobs run on the clock: the interpreter's avatar upload, handed out two
    // minutes before the others and so due two minutes before theirs.
    let witness: Value = app
        .post_as(
            &interpreter.access,
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": 100}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(upload(&witness["upload"], png(100)).await, StatusCode::OK);
    let witness_key = key_of(&witness["upload"]);
    assert!(stored(&witness_key));
    clock.advance(chrono::TimeDelta::minutes(2));
    let path = format!("/v1/sessions/{session_id}/documents");
    let ask = |size: usize| {
        let token = client.access.clone();
        let path = path.clone();
        async move {
            let created: Value = app
                .post_as(&token, &path, &json!({"filename": "f.pdf", "content_type": "application/pdf", "size_bytes": size}))
                .await
                .json()
                .await
                .expect("JSON");
            created
        }
    };
    // Uploaded but never completed; completed; never even uploaded.
    let abandoned = ask(1000).await;
    assert_eq!(
        upload(&abandoned["upload"], pdf(1000)).await,
        StatusCode::OK
    );
    let kept = ask(2000).await;
    assert_eq!(upload(&kept["upload"], pdf(2000)).await, StatusCode::OK);
    let kept_id = kept["document"]["id"].as_str().expect("id");
    let completed = app
        .post_empty_as(&client.access, &format!("{path}/{kept_id}/complete"))
        .await;
    assert_eq!(completed.status(), StatusCode::OK);
    let never = ask(3000).await;
    // An avatar uploaded but never completed.
    let avatar: Value = app
        .post_as(
            &client.access,
            "/v1/me/avatar",
            &json!({"content_type": "image/png", "size_bytes": 100}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(upload(&avatar["upload"], png(100)).await, StatusCode::OK);
    let abandoned_key = key_of(&abandoned["upload"]);
    let avatar_key = key_of(&avatar["upload"]);
    assert!(stored(&abandoned_key) && stored(&avatar_key));

    // Not yet: a day minus a minute later everything is still there, once the witness's job,
    // due a minute earlier, has run.
    clock.advance(chrono::TimeDelta::hours(24) - chrono::TimeDelta::minutes(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stored(&witness_key) {
        assert!(
            std::time::Instant::now() < deadline,
            "the witness's abandoned upload was not removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stored(&abandoned_key) && stored(&avatar_key));
    // Their jobs wait, not due.
    let queue = app.engine.job_queue().expect("a job queue");
    let waiting = queue
        .list(JobState::Delayed, 1000)
        .await
        .expect("the queue lists")
        .into_iter()
        .filter(|job| job.kind == UPLOAD_SWEEP)
        .count();
    assert_eq!(
        waiting, 4,
        "the jobs of the four uploads handed out a day minus a minute ago"
    );
    let listed = || {
        let token = client.access.clone();
        let path = path.clone();
        async move {
            let page: Value = app.get_as(&token, &path).await.json().await.expect("JSON");
            page["items"].as_array().cloned().unwrap_or_default().len()
        }
    };
    assert_eq!(listed().await, 3);

    clock.advance(chrono::TimeDelta::minutes(2));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while listed().await > 1 || stored(&abandoned_key) || stored(&avatar_key) {
        assert!(
            std::time::Instant::now() < deadline,
            "abandoned uploads were not removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for gone in [&abandoned, &never] {
        let id = gone["document"]["id"].as_str().expect("id");
        let status = app
            .get_as(&client.access, &format!("{path}/{id}"))
            .await
            .status();
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // The completed document is untouched and still downloads.
    let page: Value = app
        .get_as(&client.access, &path)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["items"][0]["id"], kept_id);
    let download = page["items"][0]["download_url"].as_str().expect("URL");
    assert_eq!(fetch(download).await, (StatusCode::OK, pdf(2000)));
    let late = app
        .post_empty_as(&client.access, "/v1/me/avatar/complete")
        .await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
}
