//! Operations endpoints and the envelope every answer shares: security headers, the metrics
//! listener, and the connection layer's promises (timeouts, 413, no request dies unanswered).

use std::time::Duration;

use crate::common::{Backend, expect_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_every_backend!(
    health_ready_and_metrics,
    unknown_routes_and_methods_are_problems,
    security_headers_on_every_answer
);

async fn health_ready_and_metrics(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(
        health.json::<Value>().await.expect("JSON"),
        serde_json::json!({"status": "ok"})
    );

    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("JSON");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["dependencies"][0]["name"], "database");
    assert_eq!(ready["dependencies"][0]["status"], "up");

    app.signup("client").await;
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("http_requests_total{")
                && l.contains("route=\"/v1/auth/signup\"")
                && l.contains("status=\"201\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket{"),
        "{metrics}"
    );

    // A caller's request id is kept and echoed.
    let traced = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "lb-trace-42")
        .send()
        .await
        .expect("sent");
    assert_eq!(traced.headers()["x-request-id"], "lb-trace-42");
    app.stop().await;
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    expect_problem(app.get("/v1/nothing-here").await, 404).await;
    expect_problem(app.get("/v1/auth/login").await, 405).await;
    let bare_path_scan = app.get("/../../etc/passwd").await;
    assert_eq!(bare_path_scan.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn ready_reports_a_database_that_is_gone() {
    let (settings, dir, db) = crate::common::settings(Backend::PgBouncer).await;
    let app = crate::common::spawn_with(settings, dir, db).await;
    let name = app.database.as_ref().expect("a database").name.clone();
    // Drop the database under the running instance.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(
        &dragoman_store_postgres::testing::admin_url(),
    )
    .await
    .expect("admin connection");
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)")),
    )
    .await
    .expect("dropped");
    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.expect("JSON");
    assert_eq!(body["dependencies"][0]["status"], "down");
    // States only: the driver's message (host names, database names) stays in the log.
    assert!(body["dependencies"][0].get("error").is_none(), "{body}");
    assert!(!body.to_string().contains(&name), "{body}");
    // The load balancer's check stays green: a database outage must not cycle every task.
    assert_eq!(app.get("/health").await.status(), StatusCode::OK);
}

async fn security_headers_on_every_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    for response in [
        app.get("/health").await,
        app.get("/v1/nothing-here").await,
        app.get("/v1/me").await,
        app.get("/openapi.json").await,
    ] {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let csp = headers["content-security-policy"].to_str().expect("ASCII");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // Plain HTTP: no HSTS, which a browser would remember for a year.
        assert!(!headers.contains_key("strict-transport-security"));
    }
    app.stop().await;

    let (mut settings, dir, db) = crate::common::settings(backend).await;
    settings.http.hsts = true;
    let app = crate::common::spawn_with(settings, dir, db).await;
    let health = app.get("/health").await;
    assert!(
        health.headers()["strict-transport-security"]
            .to_str()
            .expect("ASCII")
            .starts_with("max-age=")
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_stay_off_the_public_listener() {
    let app = spawn_app(Backend::Sqlite).await;
    app.signup("client").await;
    // Public: not there, with or without a token.
    expect_problem(app.get("/metrics").await, 404).await;
    expect_problem(app.get_as("some-guess", "/metrics").await, 404).await;
    // The metrics listener serves it.
    assert!(app.metrics().await.contains("http_requests_total{"));
    app.stop().await;

    let (mut settings, dir, db) = crate::common::settings(Backend::Sqlite).await;
    settings.http.metrics_token = Some("a-scraper-token-0123456789".into());
    let app = crate::common::spawn_with(settings, dir, db).await;
    expect_problem(app.get("/metrics").await, 404).await;
    expect_problem(
        app.get_as("a-scraper-token-012345678", "/metrics").await,
        404,
    )
    .await;
    let scraped = app.get_as("a-scraper-token-0123456789", "/metrics").await;
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped
            .text()
            .await
            .expect("text")
            .contains("http_requests_total{")
    );
    app.stop().await;
}

/// One answer read off a raw connection: its status and whether it says `Connection: close`.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    close: bool,
}

/// Reads one response (headers and a Content-Length body) from `stream`; `None` when the
/// connection ends (or resets) before a whole response arrived.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<RawAnswer> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let length: usize = header("content-length:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let close = header("connection:").is_some_and(|v| v == "close");
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        match tokio::time::timeout(Duration::from_secs(60), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buffer.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    buffer.drain(..head_end + length);
    Some(RawAnswer { status, close })
}

/// A deterministic generator of garbage (xorshift), so a failing run can be replayed.
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Garbage bodies of every kind, sent back to back over keep-alive connections, to routes
/// that answer before reading the body (401, 404, 405, 413) and routes that read it (400,
/// 415, 422): every request gets an answer. A connection the server closes with
/// `Connection: close` is reopened, as any client does; a connection that ends without an
/// answer is a request lost.
#[tokio::test]
async fn no_request_on_a_reused_connection_dies_unanswered() {
    const REQUESTS: usize = 10_000;
    const CONNECTIONS: usize = 8;
    let app = spawn_app(Backend::Sqlite).await;
    let client = app.signup("client").await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let seed = std::env::var("DRAGOMAN_GARBAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_u64);
    println!("garbage seed {seed} (DRAGOMAN_GARBAGE_SEED replays it)");
    let mut tasks = Vec::new();
    for connection in 0..CONNECTIONS {
        let address = address.clone();
        let token = client.access.clone();
        tasks.push(tokio::spawn(async move {
            let mut garbage = Garbage(seed ^ (connection as u64 + 1).wrapping_mul(0x9e37_79b9));
            let (mut unanswered, mut answered, mut reconnects) = (0usize, 0usize, 0usize);
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            let mut stream = TcpStream::connect(&address).await.expect("connects");
            let mut buffer = Vec::new();
            for i in 0..REQUESTS / CONNECTIONS {
                let kind = garbage.next() % 8;
                // Mostly small bodies; every eighth one is over the 64 KiB limit.
                let len = if garbage.next().is_multiple_of(8) {
                    65 * 1024 + (garbage.next() % (256 * 1024)) as usize
                } else {
                    (garbage.next() % 2048) as usize
                };
                let body = garbage.bytes(len);
                let (method, path, auth, content_type) = match kind {
                    0 => ("POST", "/v1/auth/signup", false, "application/json"),
                    1 => ("POST", "/v1/auth/login", false, "application/json"),
                    2 => ("POST", "/v1/requests", false, "application/json"),
                    3 => ("POST", "/v1/requests", true, "application/json"),
                    4 => ("POST", "/v1/nothing-here", false, "application/json"),
                    5 => ("PUT", "/v1/auth/login", false, "application/json"),
                    6 => ("POST", "/v1/auth/refresh", false, "text/plain"),
                    _ => ("PATCH", "/v1/interpreters/me", true, "application/json"),
                };
                let mut request = format!(
                    "{method} {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: {content_type}\r\ncontent-length: {len}\r\n"
                );
                if auth {
                    request.push_str(&format!("authorization: Bearer {token}\r\n"));
                }
                request.push_str("\r\n");
                let mut bytes = request.into_bytes();
                bytes.extend_from_slice(&body);
                let written = stream.write_all(&bytes).await;
                let answer = match written {
                    Ok(()) => read_answer(&mut stream, &mut buffer).await,
                    Err(_) => None,
                };
                match answer {
                    Some(answer) => {
                        answered += 1;
                        *statuses.entry(answer.status).or_default() += 1;
                        assert!(answer.status < 500, "request {i}: {answer:?}");
                        if answer.close {
                            reconnects += 1;
                            stream = TcpStream::connect(&address).await.expect("connects");
                            buffer.clear();
                        }
                    }
                    None => {
                        unanswered += 1;
                        stream = TcpStream::connect(&address).await.expect("connects");
                        buffer.clear();
                    }
                }
            }
            (answered, unanswered, reconnects, statuses)
        }));
    }
    let (mut answered, mut unanswered, mut reconnects) = (0, 0, 0);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for task in tasks {
        let (a, u, r, s) = task.await.expect("the connection task");
        answered += a;
        unanswered += u;
        reconnects += r;
        for (status, n) in s {
            *statuses.entry(status).or_default() += n;
        }
    }
    println!(
        "{} garbage-body requests over {CONNECTIONS} keep-alive connections: {answered} answered, {unanswered} unanswered, {reconnects} closed by the server with Connection: close; statuses {statuses:?}",
        answered + unanswered
    );
    assert_eq!(unanswered, 0);
    assert_eq!(answered, REQUESTS);
    // The body-reading routes were reached, and so were the ones that answer before reading.
    for status in [400, 401, 404, 405, 413] {
        assert!(statuses.contains_key(&status), "{statuses:?}");
    }
    app.stop().await;
}

/// A body over the limit gets its 413, never a bare reset: declared (Content-Length) and
/// streamed (chunked) bodies of 1 MiB, each written whole by a client that reads the answer
/// only afterwards, as a phone's HTTP client does.
#[tokio::test]
async fn an_oversized_body_gets_413_every_time() {
    let app = spawn_app(Backend::Sqlite).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let big = vec![b'x'; 1024 * 1024];
    let mut answered = 0;
    for i in 0..100 {
        let mut request = format!(
            "POST /v1/auth/signup HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n"
        )
        .into_bytes();
        if i % 2 == 0 {
            request.extend_from_slice(format!("content-length: {}\r\n\r\n", big.len()).as_bytes());
            request.extend_from_slice(&big);
        } else {
            request.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for chunk in big.chunks(64 * 1024) {
                request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                request.extend_from_slice(chunk);
                request.extend_from_slice(b"\r\n");
            }
            request.extend_from_slice(b"0\r\n\r\n");
        }
        let mut stream = TcpStream::connect(&address).await.expect("connects");
        stream
            .write_all(&request)
            .await
            .unwrap_or_else(|e| panic!("try {i}: the connection broke while sending: {e}"));
        let mut buffer = Vec::new();
        let answer = read_answer(&mut stream, &mut buffer)
            .await
            .unwrap_or_else(|| panic!("try {i}: no answer"));
        assert_eq!(answer.status, 413, "try {i}");
        answered += 1;
    }
    println!("oversized bodies: {answered} of 100 answered 413");
    app.stop().await;
}

/// A client that stops sending (its headers, or its body) is cut off instead of holding a
/// connection and a task forever; one whose body is late gets a 408 saying why.
#[tokio::test]
async fn slow_clients_are_cut_off() {
    let (mut settings, dir, db) = crate::common::settings(Backend::Sqlite).await;
    settings.http.transport.header_read_timeout = Duration::from_secs(1);
    settings.http.transport.body_read_timeout = Duration::from_secs(1);
    let app = crate::common::spawn_with(settings, dir, db).await;
    let address = app.base.trim_start_matches("http://").to_owned();

    // Headers that never end: the connection is closed (the bound below only keeps a broken
    // server from hanging the test).
    let mut stream = TcpStream::connect(&address).await.expect("connects");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .expect("written");
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await;
    assert!(
        ended.is_ok(),
        "the server kept a connection whose headers never ended"
    );

    // A body that stops halfway: 408, and the connection closes.
    let mut stream = TcpStream::connect(&address).await.expect("connects");
    stream
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"email\":",
        )
        .await
        .expect("written");
    let mut buffer = Vec::new();
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        read_answer(&mut stream, &mut buffer),
    )
    .await
    .expect("answered")
    .expect("a whole answer");
    assert_eq!(answer.status, 408);
    assert!(answer.close, "{answer:?}");
    app.stop().await;
}
