//! The binary itself: configuration errors, the commands, logs, graceful stop.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dragoman_store_postgres::testing::TestDatabase;
use serde_json::{Value, json};

fn dragoman() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dragoman"));
    // Nothing from the environment of the test run leaks in.
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Tests run side by side: each metrics listener takes a free port.
        .env("METRICS_PORT", "0");
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the binary runs")
}

fn assert_config_error(output: &Output, variable: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("configuration error: {variable}: ")),
        "{stderr}"
    );
}

#[test]
fn invalid_configuration_stops_with_status_2_naming_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    assert_config_error(
        &run(dragoman()
            .env("DATA_DIR", &data)
            .env("DATABASE_URL", "mysql://localhost/db")),
        "DATABASE_URL",
    );
    assert_config_error(
        &run(dragoman()
            .env("DATA_DIR", &data)
            .env("JWT_SECRET", "too-short")),
        "JWT_SECRET",
    );
    for (variable, value) in [
        ("PASSWORD_HASH_CONCURRENCY", "0"),
        ("PASSWORD_HASH_QUEUE_MS", "600000"),
        ("SIGNUP_LIMIT_PER_ADDRESS", "0"),
        ("SIGNUP_WINDOW_SECS", "0"),
        ("REFRESH_FAMILIES_PER_USER", "0"),
    ] {
        assert_config_error(
            &run(dragoman().env("DATA_DIR", &data).env(variable, value)),
            variable,
        );
    }
    assert_config_error(
        &run(dragoman()
            .env("DATA_DIR", &data)
            .env("REDIS_URL", "redis://127.0.0.1:6379")),
        "JWT_SECRET",
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("written");
    assert_config_error(
        &run(dragoman().env("DATA_DIR", file.join("data"))),
        "DATA_DIR",
    );
    assert_config_error(
        &run(dragoman().args(["--data-dir", &data, "--public-url", "ftp://x"])),
        "PUBLIC_URL",
    );
    assert_config_error(
        &run(dragoman()
            .env("DATA_DIR", &data)
            .env("DATABASE_READ_URL", "postgres://127.0.0.1:5433/db")),
        "DATABASE_READ_URL",
    );
    assert_config_error(
        &run(dragoman().env("DATA_DIR", &data).env("RETENTION_DAYS", "0")),
        "RETENTION_DAYS",
    );
    // clap's own refusals use the same status.
    assert_eq!(
        run(dragoman().env("PORT", "not-a-port")).status.code(),
        Some(2)
    );
}

/// A `dragoman serve` child process whose log lines are collected.
struct Server {
    child: Child,
    port: u16,
    /// The /metrics listener's port, from the start-up line.
    metrics_port: u16,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(envs: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut command = dragoman();
        command
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("LOG_FORMAT", "json");
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawned");
        let (tx, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut server = Self {
            child,
            port,
            metrics_port: 0,
            lines,
            seen: Vec::new(),
        };
        let listening = server.wait_for("Dragoman listening");
        server.metrics_port = listening["metricsPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("the start-up line names the metrics port");
        server
    }

    fn wait_for(&mut self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v["message"] == message
                    {
                        return v;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        panic!("no {message:?} line; saw {:#?}", self.seen);
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// SIGTERM, then the exit status and every line written.
    fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill")
                .success()
        );
        let status = self.child.wait().expect("exited");
        std::thread::sleep(Duration::from_millis(100));
        self.seen.extend(self.lines.try_iter());
        (status.code(), self.seen)
    }
}

/// Every line is one JSON object with the seed's four fields (a lower-case level, a timestamp
/// in RFC 3339 with milliseconds, the service), and none contains any of `secrets`.
fn assert_seed_shaped_without_secrets(lines: &[String], service: &str, secrets: &[String]) {
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        for field in ["level", "message", "timestamp", "service"] {
            assert!(v.get(field).is_some(), "no {field}: {line}");
        }
        assert!(
            ["error", "warn", "info", "debug", "trace"]
                .contains(&v["level"].as_str().unwrap_or("")),
            "{line}"
        );
        assert_eq!(v["service"], service);
        let ts = v["timestamp"].as_str().expect("timestamp");
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.len() == 24,
            "{ts}"
        );
        for secret in secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a secret leaked into {line}"
            );
        }
    }
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn logs_are_seed_shaped_json_and_carry_no_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(&[
        ("DATA_DIR", dir.path().to_str().expect("utf-8")),
        ("SERVICE_NAME", "api-service"),
    ]);
    let password = "a very secret passphrase";
    let email = "nurse@example.org";
    let signup: Value = post(
        &server.url("/v1/auth/signup"),
        &json!({"email": email, "password": password, "display_name": "Nurse", "role": "client"}),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let login: Value = post(
        &server.url("/v1/auth/login"),
        &json!({"email": email, "password": password}),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let failed = post(
        &server.url("/v1/auth/login"),
        &json!({"email": email, "password": "wrong guess 123"}),
    )
    .await;
    assert_eq!(failed.status(), 401);
    let refreshed: Value = post(
        &server.url("/v1/auth/refresh"),
        &json!({"refresh_token": login["refresh_token"]}),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let me = reqwest::Client::new()
        .get(server.url("/v1/me"))
        .bearer_auth(refreshed["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("sent");
    assert_eq!(me.status(), 200);

    let (status, lines) = server.terminate();
    assert_eq!(status, Some(0));
    let secrets = [
        password.to_owned(),
        "wrong guess 123".to_owned(),
        signup["access_token"].as_str().expect("t").to_owned(),
        signup["refresh_token"].as_str().expect("t").to_owned(),
        login["access_token"].as_str().expect("t").to_owned(),
        login["refresh_token"].as_str().expect("t").to_owned(),
        refreshed["access_token"].as_str().expect("t").to_owned(),
        refreshed["refresh_token"].as_str().expect("t").to_owned(),
    ];
    assert!(lines.len() >= 6, "{lines:#?}");
    assert_seed_shaped_without_secrets(&lines, "api-service", &secrets);
    let me_line = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "Request completed" && v["route"] == "/v1/me")
        .expect("a request line for /v1/me");
    assert_eq!(me_line["status"], 200);
    assert_eq!(me_line["method"], "GET");
    assert!(me_line["latencyMs"].is_number());
    assert!(me_line["requestId"].is_string());
    assert_eq!(me_line["userId"], signup["user"]["id"]);
    assert!(lines.iter().any(|l| l.contains("SIGTERM received")));
    assert!(lines.iter().any(|l| l.contains("Dragoman stopped")));
}

#[tokio::test]
async fn healthcheck_answers_for_the_container() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    let server = Server::start(&[("DATA_DIR", &data)]);
    let port = server.port.to_string();
    assert!(
        run(dragoman()
            .args(["healthcheck"])
            .env("PORT", &port)
            .env("DATA_DIR", &data))
        .status
        .success()
    );
    let (status, _) = server.terminate();
    assert_eq!(status, Some(0));
    let closed = run(dragoman()
        .args(["healthcheck"])
        .env("PORT", &port)
        .env("DATA_DIR", &data));
    assert_eq!(closed.status.code(), Some(1));
}

#[tokio::test]
async fn admins_are_created_on_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    let create = |password: &str| {
        let mut child = dragoman()
            .args([
                "admin",
                "create-user",
                "--email",
                "Ops@Example.org",
                "--role",
                "admin",
                "--password-stdin",
            ])
            .env("DATA_DIR", &data)
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawned");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("written");
        child.wait_with_output().expect("finished")
    };
    let short = create("short");
    assert_eq!(short.status.code(), Some(1));
    let created = create("operations password");
    assert!(created.status.success(), "{created:?}");
    let user: Value = serde_json::from_slice(&created.stdout).expect("JSON on stdout");
    assert_eq!(user["email"], "ops@example.org");
    assert_eq!(user["role"], "admin");
    assert_eq!(
        create("operations password").status.code(),
        Some(1),
        "a second admin with the same e-mail"
    );

    let server = Server::start(&[("DATA_DIR", &data)]);
    let login: Value = post(
        &server.url("/v1/auth/login"),
        &json!({"email": "ops@example.org", "password": "operations password"}),
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(login["user"]["role"], "admin");
    server.terminate();
}

#[tokio::test]
async fn a_read_replica_that_does_not_answer_stops_the_start() {
    let db = TestDatabase::create().await.expect("a database");
    let _guard = dragoman_store_postgres::testing::DatabaseGuard(db.clone());
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();
    let nothing_there = free_port();
    let output = run(dragoman()
        .env("DATA_DIR", &data)
        .env("LOG_FORMAT", "json")
        .env("DATABASE_URL", db.direct_url())
        .env(
            "DATABASE_READ_URL",
            format!("postgres://postgres@127.0.0.1:{nothing_there}/{}", db.name),
        ));
    assert_config_error(&output, "DATABASE_READ_URL");
    let line = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(line.contains("connecting"), "{line}");
}

#[tokio::test]
async fn postgres_is_migrated_by_command_and_checked_at_start() {
    let db = TestDatabase::create().await.expect("a database");
    // A database without our schema: the template is migrated, so use a fresh empty one.
    let empty = format!("{}_empty", db.name);
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(
        &dragoman_store_postgres::testing::admin_url(),
    )
    .await
    .expect("admin");
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{empty}\"")),
    )
    .await
    .expect("created");
    let url = dragoman_store_postgres::testing::with_database(
        &dragoman_store_postgres::testing::admin_url(),
        &empty,
    );
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();

    let refused = run(dragoman()
        .env("DATA_DIR", &data)
        .env("DATABASE_URL", &url)
        .env("LOG_FORMAT", "json"));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("dragoman migrate"),
        "{refused:?}"
    );

    let migrated = run(dragoman()
        .arg("migrate")
        .env("DATA_DIR", &data)
        .env("DATABASE_URL", &url));
    assert!(migrated.status.success(), "{migrated:?}");
    let server = Server::start(&[("DATA_DIR", &data), ("DATABASE_URL", &url)]);
    let health = reqwest::get(server.url("/ready")).await.expect("sent");
    assert_eq!(health.status(), 200);
    let (status, _) = server.terminate();
    assert_eq!(status, Some(0));
    sqlx::Executor::execute(
        &mut admin,
        sqlx::AssertSqlSafe(format!("DROP DATABASE \"{empty}\" WITH (FORCE)")),
    )
    .await
    .expect("dropped");
}

#[tokio::test]
async fn a_match_logs_the_seed_line_and_feeds_the_histogram() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(&[
        ("DATA_DIR", dir.path().to_str().expect("utf-8")),
        ("SERVICE_NAME", "api-service"),
        ("METRICS_FORMAT", "emf"),
        ("METRICS_INTERVAL_MS", "200"),
    ]);
    let http = reqwest::Client::new();
    // Every HTTP request this test makes, to compare with the EMF RequestCount.
    let mut requests = 0_u64;
    let signup = |role: &'static str| {
        let url = server.url("/v1/auth/signup");
        let http = http.clone();
        async move {
            let body: Value = http
                .post(url)
                .json(&json!({"email": format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple()), "password": "long enough password", "display_name": "X", "role": role}))
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("JSON");
            body["access_token"].as_str().expect("token").to_owned()
        }
    };
    let interpreter = signup("interpreter").await;
    let client = signup("client").await;
    requests += 2;
    let profile = json!({"languages": [{"code": "es", "level": "native", "certified": true}], "specializations": ["general"], "modalities": ["video"]});
    http.put(server.url("/v1/interpreters/me"))
        .bearer_auth(&interpreter)
        .json(&profile)
        .send()
        .await
        .expect("sent");
    http.put(server.url("/v1/interpreters/me/status"))
        .bearer_auth(&interpreter)
        .json(&json!({"status": "available"}))
        .send()
        .await
        .expect("sent");
    http.post(server.url("/v1/requests"))
        .bearer_auth(&client)
        .json(&json!({"language": "es"}))
        .send()
        .await
        .expect("sent");
    requests += 3;
    let offer = loop {
        requests += 1;
        let page: Value = http
            .get(server.url("/v1/offers"))
            .bearer_auth(&interpreter)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        if let Some(offer) = page["items"].as_array().and_then(|i| i.first()).cloned() {
            break offer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let session: Value = http
        .post(server.url(&format!(
            "/v1/offers/{}/accept",
            offer["id"].as_str().expect("id")
        )))
        .bearer_auth(&interpreter)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    requests += 1;
    // Credentials in an Authorization header and in an access_token query parameter (as a
    // WebSocket client sends them), on a known route, an unknown one and a refused one.
    for path in ["/v1/me", "/v1/no-such-thing", "/v1/offers", "/v1/ws"] {
        let answer = http
            .get(server.url(&format!(
                "{path}?access_token={}",
                "query-secret-token-4711"
            )))
            .header("authorization", "Bearer header-secret-token-4711")
            .send()
            .await
            .expect("sent");
        assert!(answer.status().is_client_error());
        let answer = http
            .get(server.url(&format!("{path}?access_token={client}")))
            .bearer_auth(&interpreter)
            .send()
            .await
            .expect("sent");
        assert!(answer.status().as_u16() < 500);
    }
    requests += 8; // the eight above (/metrics below has its own listener, outside the counts)
    let metrics = http
        .get(format!("http://127.0.0.1:{}/metrics", server.metrics_port))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("dragoman_match_time_seconds_count{language=\"es\"} 1")),
        "{metrics}"
    );
    assert!(
        metrics.contains("dragoman_match_time_seconds_bucket{language=\"es\",le=\"120\"} 1"),
        "{metrics}"
    );

    let (status, lines) = server.terminate();
    assert_eq!(status, Some(0));
    let secrets = [
        "long enough password".to_owned(),
        "query-secret-token-4711".to_owned(),
        "header-secret-token-4711".to_owned(),
        interpreter.clone(),
        client.clone(),
    ];
    assert_seed_shaped_without_secrets(&lines, "api-service", &secrets);
    let emf: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert!(emf.len() >= 2, "{lines:#?}");
    let mut counted = 0;
    let mut match_times = Vec::new();
    for doc in &emf {
        dragoman_telemetry::emf_spec::check(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Dragoman");
        assert_eq!(directive["Dimensions"], json!([["ServiceName"]]));
        assert_eq!(doc["ServiceName"], "api-service");
        counted += doc["RequestCount"].as_u64().unwrap_or(0);
        assert!(doc.get("Http5xxCount").is_none_or(|n| n == 0), "{doc}");
        if let Some(values) = doc["MatchTime"].as_array() {
            assert_eq!(
                directive["Metrics"],
                json!([{"Name": "MatchTime", "Unit": "Milliseconds"}])
            );
            match_times.extend(values.iter().filter_map(Value::as_f64));
        }
    }
    assert_eq!(counted, requests, "every request counted once in EMF");
    assert_eq!(
        match_times,
        vec![session["match_time_ms"].as_f64().expect("ms")]
    );
    let created = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "Session created")
        .expect("a \"Session created\" line");
    assert_eq!(created["sessionId"], session["id"]);
    assert_eq!(created["language"], "es");
    assert_eq!(created["matchTime"], session["match_time_ms"]);
    assert!(created["matchTime"].is_i64());
}

/// The test authority's directory (scripts/test-ca makes it, idempotently).
fn test_ca() -> std::path::PathBuf {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-ca");
    let out = Command::new("bash")
        .arg(script)
        .output()
        .expect("scripts/test-ca runs");
    assert!(out.status.success(), "scripts/test-ca: {out:?}");
    std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// `sslmode=verify-full` with `sslrootcert`, as the migrate task connects to RDS: the server's
/// certificate must chain to that authority and name the host (scripts/services gives the
/// test PostgreSQL the test authority's certificate). Another authority stops the command at
/// start with one line naming DATABASE_URL; nothing falls back to plaintext.
#[tokio::test]
async fn postgres_tls_verifies_the_server_with_sslrootcert() {
    let db = TestDatabase::create().await.expect("a database");
    let ca = test_ca();
    let tls_url = |root: &str| {
        let base = dragoman_store_postgres::testing::with_database(
            "postgres://postgres@localhost:5432/postgres",
            &db.name,
        );
        format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            ca.join(root).display()
        )
    };
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().to_str().expect("utf-8").to_owned();

    let verified = run(dragoman()
        .arg("migrate")
        .env("DATA_DIR", &data)
        .env("DATABASE_URL", tls_url("ca.crt")));
    assert!(verified.status.success(), "{verified:?}");

    let refused = run(dragoman()
        .arg("migrate")
        .env("DATA_DIR", &data)
        .env("DATABASE_URL", tls_url("other-ca.crt")));
    assert_config_error(&refused, "DATABASE_URL");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
    let refused_serving = run(dragoman()
        .env("DATA_DIR", &data)
        .env("PORT", free_port().to_string())
        .env("DATABASE_URL", tls_url("other-ca.crt")));
    assert_config_error(&refused_serving, "DATABASE_URL");
}
