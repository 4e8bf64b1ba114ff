//! App assets: `dragoman assets put` uploads one, `GET /v1/assets/{path}` serves it with an
//! ETag and Cache-Control and answers 304 to a current `If-None-Match`; paths that could leave
//! `assets/` are refused.

use std::process::Command;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::s3::spawn_s3;
use super::support::{ACCESS_KEY, SECRET_KEY};
use crate::common::{Backend, TestApp, spawn_app};

on_every_backend!(assets_are_served_with_etag_and_304, assets_on_s3);

/// `dragoman assets put FILE PATH` with the test app's DATA_DIR and `envs`.
fn put_asset(app: &TestApp, contents: &[u8], path: &str, envs: &[(&str, &str)]) {
    let file = app.data_dir.path().join("upload-me");
    std::fs::write(&file, contents).expect("written");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dragoman"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", app.data_dir.path())
        .env("LOG_FORMAT", "json")
        .args(["assets", "put"])
        .arg(&file)
        .arg(path);
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the asset as JSON");
    assert_eq!(printed["key"], format!("assets/{path}"));
}

/// The status line of a request sent byte for byte (no client normalises its path).
async fn raw_status(app: &TestApp, target: &str) -> u16 {
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connected");
    let request = format!("GET {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"))
}

async fn check_served(app: &TestApp, path: &str, contents: &[u8]) {
    let url = app.url(&format!("/v1/assets/{path}"));
    let first = app.http.get(&url).send().await.expect("answers");
    assert_eq!(first.status(), StatusCode::OK);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&first, "content-type").as_deref(),
        Some("application/json")
    );
    let cache = header(&first, "cache-control").expect("Cache-Control");
    assert!(cache.contains("max-age="), "{cache}");
    let etag = header(&first, "etag").expect("an ETag");
    assert_eq!(first.bytes().await.expect("body").as_ref(), contents);

    let revalidated = app
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("answers");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&revalidated, "etag").as_deref(), Some(etag.as_str()));
    assert!(revalidated.bytes().await.expect("body").is_empty());
    let stale = app
        .http
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .expect("answers");
    assert_eq!(stale.status(), StatusCode::OK);
}

async fn assets_are_served_with_etag_and_304(backend: Backend) {
    let app = spawn_app(backend).await;
    let v1 = br#"{"hello":"hola"}"#;
    put_asset(&app, v1, "i18n/es.json", &[]);
    check_served(&app, "i18n/es.json", v1).await;
    let before = app
        .get("/v1/assets/i18n/es.json")
        .await
        .headers()
        .get("etag")
        .cloned();

    // A new version gets a new ETag: the old one no longer yields 304.
    let v2 = br#"{"hello":"buenas"}"#;
    put_asset(&app, v2, "i18n/es.json", &[]);
    check_served(&app, "i18n/es.json", v2).await;
    let after = app
        .get("/v1/assets/i18n/es.json")
        .await
        .headers()
        .get("etag")
        .cloned();
    assert_ne!(before, after);

    assert_eq!(
        app.get("/v1/assets/i18n/fr.json").await.status(),
        StatusCode::NOT_FOUND
    );
    // The secret and the database live in the same DATA_DIR: nothing outside assets/ is served.
    for target in [
        "/v1/assets/../jwt-secret",
        "/v1/assets/../../jwt-secret",
        "/v1/assets/%2e%2e/%2e%2e/jwt-secret",
        "/v1/assets/..%2f..%2fjwt-secret",
        "/v1/assets/i18n/..%5c..%5cjwt-secret",
        "/v1/assets/i18n//es.json",
        "/v1/assets/./i18n/es.json",
        "/v1/assets/%00",
    ] {
        let status = raw_status(&app, target).await;
        assert!((400..500).contains(&status), "{target} answered {status}");
    }
    // The CLI refuses such a path too.
    let output = Command::new(env!("CARGO_BIN_EXE_dragoman"))
        .env_clear()
        .env("DATA_DIR", app.data_dir.path())
        .args(["assets", "put", "/dev/null", "../escape.json"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    app.stop().await;
}

async fn assets_on_s3(backend: Backend) {
    let (app, s3) = spawn_s3(backend).await;
    let contents = br#"{"minimum_version":"2.3.0"}"#;
    // Credentials from the standard AWS chain: here its environment variables.
    put_asset(
        &app,
        contents,
        "config/app.json",
        &[
            ("S3_BUCKET", "bucket"),
            ("S3_ENDPOINT", &s3.endpoint),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
    assert!(
        s3.dir
            .path()
            .join("bucket/assets/config/app.json")
            .is_file()
    );
    check_served(&app, "config/app.json", contents).await;
    app.stop().await;
}
