//! Helpers: a session between two new users, uploads as the app sends them, and an s3s-fs
//! server of the test's own.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Account, TestApp};

pub const ACCESS_KEY: &str = "dragoman-files-test-key";
pub const SECRET_KEY: &str = "dragoman-files-test-secret-0123456789";

pub fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(len, 7);
    bytes
}

pub fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(len, b'x');
    bytes
}

/// A session between a new client and a new interpreter.
pub async fn session(app: &TestApp) -> (String, Account, Account) {
    let interpreter = app.available_interpreter().await;
    let client = app.signup("client").await;
    let request = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    assert_eq!(request.status(), StatusCode::CREATED);
    let offer = app.wait_for_offer(&interpreter).await;
    let session = app.accept(&interpreter, &offer).await;
    (
        session["id"].as_str().expect("id").to_owned(),
        client,
        interpreter,
    )
}

/// Sends `body` to the upload `url` with the upload's headers, one of them optionally replaced.
pub async fn put(
    upload: &Value,
    url: &str,
    body: Vec<u8>,
    replace: Option<(&str, &str)>,
) -> StatusCode {
    assert_eq!(upload["method"], "PUT");
    let mut request = reqwest::Client::new().put(url);
    for (name, value) in upload["headers"].as_object().expect("headers") {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // set from the body
        }
        let value = match replace {
            Some((n, v)) if n.eq_ignore_ascii_case(name) => v,
            _ => value.as_str().expect("a header value"),
        };
        request = request.header(name, value);
    }
    request
        .body(body)
        .send()
        .await
        .expect("storage answers")
        .status()
}

/// Uploads `body` exactly as `upload` says.
pub async fn upload(upload: &Value, body: Vec<u8>) -> StatusCode {
    put(upload, upload["url"].as_str().expect("url"), body, None).await
}

pub async fn fetch(url: &str) -> (StatusCode, Vec<u8>) {
    let response = reqwest::get(url).await.expect("storage answers");
    let status = response.status();
    (status, response.bytes().await.expect("a body").to_vec())
}

/// An s3s-fs server with access keys (it then verifies every signature), killed on drop.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    let candidates = [
        std::env::var_os("S3S_FS").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/dragoman/bin/s3s-fs")),
    ];
    // Never skipped: without the server these tests fail (scripts/test installs it).
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .expect("s3s-fs is not installed: run scripts/s3s-fs")
}

impl S3Server {
    /// Starts s3s-fs with a bucket named `bucket`.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("bucket")).expect("the bucket directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs starts");
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("s3s-fs did not start listening");
    }
}
