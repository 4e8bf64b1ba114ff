//! The binary against Redis with TLS and a password (scripts/redis-tls): it serves when the
//! server's certificate verifies through SSL_CERT_FILE and the URL's password is right, and
//! otherwise stops at start with one line naming REDIS_URL and the cause, exit status 2; never a
//! plaintext connection instead. Against the Redis Cluster (scripts/redis-cluster): it serves
//! with REDIS_CLUSTER=true, and a cluster given as a single Redis, or the reverse, stops the
//! start naming REDIS_CLUSTER.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn from_env(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!(
            "{variable} is not set: run the tests with scripts/test, which starts scripts/redis-tls"
        )
    })
}

/// The TLS Redis's URL with its password.
fn tls_url() -> String {
    from_env("REDIS_TEST_TLS_URL")
}

/// The test authority (trusted) and an unrelated one (scripts/test-ca).
fn ca(name: &str) -> String {
    format!("{}/{name}", from_env("DRAGOMAN_TEST_CA_DIR"))
}

/// `url` with its password replaced.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (_, host) = rest.rsplit_once('@').expect("a URL with a password");
    format!("{scheme}://:{password}@{host}")
}

/// The binary with a fleet's settings on SQLite, the given REDIS_URL and SSL_CERT_FILE, and
/// nothing else from the test's environment.
fn dragoman(redis_url: &str, cert_file: &str) -> (Command, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dragoman"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.path())
        .env("JWT_SECRET", "0123456789abcdef0123456789abcdef")
        .env("REDIS_URL", redis_url)
        .env(
            "REDIS_PREFIX",
            format!("test:{}:", uuid::Uuid::new_v4().simple()),
        )
        .env("SSL_CERT_FILE", cert_file)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("METRICS_PORT", "0")
        .env("LOG_FORMAT", "json");
    (command, dir)
}

fn assert_refused(output: &Output, variable: &str, cause: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with(&format!("configuration error: {variable}: ")),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains(cause),
        "the cause ({cause}) is named: {stderr}"
    );
    assert!(
        !stderr.contains("dragoman-tls-test") && !stderr.contains("wrong-password"),
        "no password in the message: {stderr}"
    );
}

/// Starts `command` and asserts that it gets to serving without an error line.
fn assert_serves(command: &mut Command) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawned");
    let lines = BufReader::new(child.stdout.take().expect("stdout"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut listening = false;
    for line in lines.lines().map_while(Result::ok) {
        if line.contains("Dragoman listening") {
            listening = true;
            break;
        }
        seen.push(line);
        assert!(Instant::now() < deadline, "not listening: {seen:#?}");
    }
    let running = child.try_wait().expect("status");
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening && running.is_none(), "it serves: {seen:#?}");
    assert!(
        seen.iter().all(|l| !l.contains("\"level\":\"error\"")),
        "{seen:#?}"
    );
}

#[test]
fn serves_over_tls_with_the_password_and_the_authority_of_ssl_cert_file() {
    let (mut command, _dir) = dragoman(&tls_url(), &ca("ca.crt"));
    assert_serves(&mut command);
}

fn cluster_url() -> String {
    std::env::var("REDIS_TEST_CLUSTER_URL").unwrap_or_else(|_| {
        panic!("REDIS_TEST_CLUSTER_URL is not set: run the tests with scripts/test, which starts scripts/redis-cluster")
    })
}

#[test]
fn serves_on_a_cluster_with_redis_cluster_set() {
    let (mut command, _dir) = dragoman(&cluster_url(), &ca("ca.crt"));
    command.env("REDIS_CLUSTER", "true");
    assert_serves(&mut command);
}

#[test]
fn a_cluster_given_as_a_single_redis_and_the_reverse_stop_the_start() {
    let (mut command, _dir) = dragoman(&cluster_url(), &ca("ca.crt"));
    assert_refused(
        &command.output().expect("runs"),
        "REDIS_CLUSTER",
        "cluster_enabled:1",
    );
    let single = std::env::var("DRAGOMAN_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let (mut command, _dir) = dragoman(&single, &ca("ca.crt"));
    command.env("REDIS_CLUSTER", "true");
    assert_refused(
        &command.output().expect("runs"),
        "REDIS_CLUSTER",
        "cluster_enabled:0",
    );
}

#[test]
fn a_certificate_that_does_not_verify_stops_the_start() {
    // The server's certificate is signed by the test authority; this process trusts another.
    let (mut command, _dir) = dragoman(&tls_url(), &ca("other-ca.crt"));
    assert_refused(&command.output().expect("runs"), "REDIS_URL", "certificate");
}

#[test]
fn a_wrong_password_stops_the_start() {
    let url = with_password(&tls_url(), "wrong-password");
    let (mut command, _dir) = dragoman(&url, &ca("ca.crt"));
    assert_refused(
        &command.output().expect("runs"),
        "REDIS_URL",
        "authentication failed",
    );
}

#[test]
fn no_plaintext_instead_of_tls() {
    // redis:// to the TLS-only port: the handshake is not plaintext, so nothing is spoken.
    let plain = tls_url().replacen("rediss://", "redis://", 1);
    let (mut command, _dir) = dragoman(&plain, &ca("ca.crt"));
    let output = command.output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    // rediss:// to a plaintext Redis: the TLS handshake fails, no plaintext retry.
    let plain_server = std::env::var("DRAGOMAN_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
        .replacen("redis://", "rediss://", 1);
    let (mut command, _dir) = dragoman(&plain_server, &ca("ca.crt"));
    let output = command.output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("configuration error: REDIS_URL: "),
        "{stderr}"
    );
}
