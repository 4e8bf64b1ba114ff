//! Test support: the real application on port 0, against a store of its own, and the WebSocket
//! client of its gateway (`ws`).
#![allow(dead_code)]

pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use dragoman_engine::{Engine, Matching};
use dragoman_ports::{Clock, Store, SystemClock};

use dragoman::config::{Database, JwtSecret, RedisSettings};
use dragoman::{Application, Settings};
use dragoman_store_postgres::Pooler;
use dragoman_store_postgres::testing::TestDatabase;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Where the job queue lives, for the tests that run on each.
#[derive(Debug, Clone, Copy)]
pub enum Queue {
    /// The `jobs` table of the embedded SQLite file.
    Embedded,
    /// Redis Streams, with the store on PostgreSQL through PgBouncer.
    Redis,
    /// The `jobs` table of PostgreSQL (through PgBouncer), no Redis.
    Postgres,
}

/// The application with its job queue on `queue`.
pub async fn spawn_on_queue(queue: Queue) -> TestApp {
    match queue {
        Queue::Embedded => spawn_app(Backend::Sqlite).await,
        Queue::Postgres => spawn_app(Backend::PgBouncer).await,
        Queue::Redis => {
            let (mut settings, dir, db) = settings(Backend::PgBouncer).await;
            settings.jwt_secret =
                JwtSecret::Given(b"a secret for the job queue tests, 32 bytes+".to_vec());
            settings.redis = Some(RedisSettings {
                url: std::env::var("DRAGOMAN_TEST_REDIS")
                    .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned()),
                prefix: format!("test:{}", uuid::Uuid::new_v4().simple()),
                cluster: false,
            });
            spawn_with(settings, dir, db).await
        }
    }
}

/// Which store the application runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// PostgreSQL through PgBouncer in transaction pooling: the production path.
    PgBouncer,
}

/// Expands `async fn name(backend: Backend)` test bodies into one test per backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_through_pgbouncer() {
                    super::$name($crate::common::Backend::PgBouncer).await;
                }
            }
        )+
    };
}

/// A running application and a client for it.
#[derive(Debug)]
pub struct TestApp {
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    /// The matching rounds and timer sweeps, for tests that drive them directly.
    pub matching: Matching,
    pub base: String,
    /// The separate /metrics listener.
    pub metrics_base: String,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub database: Option<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test instance on `backend`, with its own data directory and database.
pub async fn settings(backend: Backend) -> (Settings, tempfile::TempDir, Option<TestDatabase>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings::embedded(dir.path(), 0);
    settings.shutdown_timeout = Duration::from_secs(5);
    // Every test user signs up from 127.0.0.1, where the real ones come from their own phones:
    // the per-address limit is tested on its own (password_abuse.rs), not by the crowd of a
    // fleet test.
    settings.http.signup_limit =
        dragoman_http::auth::AddressLimit::signup(100_000, Duration::from_secs(3600));
    let database = match backend {
        Backend::Sqlite => None,
        Backend::PgBouncer => {
            let db = TestDatabase::create()
                .await
                .expect("a PostgreSQL test database");
            settings.database = Database::Postgres {
                url: db.pgbouncer_url(),
                migration_url: db.direct_url(),
                pooler: Pooler::Transaction,
                max_connections: 4,
            };
            settings.migrate = true;
            Some(db)
        }
    };
    (settings, dir, database)
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let (settings, dir, database) = settings(backend).await;
    spawn_with(settings, dir, database).await
}

pub async fn spawn_with(
    settings: Settings,
    dir: tempfile::TempDir,
    database: Option<TestDatabase>,
) -> TestApp {
    spawn_with_clock(settings, dir, database, Arc::new(SystemClock)).await
}

/// As [`spawn_with`], on the given clock.
pub async fn spawn_with_clock(
    settings: Settings,
    dir: tempfile::TempDir,
    database: Option<TestDatabase>,
    clock: Arc<dyn Clock>,
) -> TestApp {
    let app = Application::build_with_clock(settings, clock)
        .await
        .expect("the application builds");
    let store = app.store();
    let engine = app.engine();
    let matching = app.matching();
    let base = format!("http://127.0.0.1:{}", app.port());
    let metrics_base = format!("http://127.0.0.1:{}", app.metrics_port());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        store,
        engine,
        matching,
        base,
        metrics_base,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client"),
        data_dir: dir,
        database,
        stop: Some(stop),
        task: Some(task),
    }
}

impl TestApp {
    /// An interpreter with a profile (es and fr, general and medical, video and audio), set
    /// `available`.
    pub async fn available_interpreter(&self) -> Account {
        self.interpreter_speaking(&["es", "fr"]).await
    }

    pub async fn interpreter_speaking(&self, languages: &[&str]) -> Account {
        let account = self.signup("interpreter").await;
        let langs: Vec<Value> = languages
            .iter()
            .map(|l| json!({"code": l, "level": "professional", "certified": true}))
            .collect();
        let profile = json!({"languages": langs, "specializations": ["general", "medical"], "modalities": ["video", "audio"]});
        assert_eq!(
            self.put_as(&account.access, "/v1/interpreters/me", &profile)
                .await
                .status(),
            StatusCode::OK
        );
        let status = self
            .put_as(
                &account.access,
                "/v1/interpreters/me/status",
                &json!({"status": "available"}),
            )
            .await;
        assert_eq!(status.status(), StatusCode::OK);
        account
    }

    /// Waits (up to 10 s) for the interpreter's pending offer and returns it.
    pub async fn wait_for_offer(&self, interpreter: &Account) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let page: Value = self
                .get_as(&interpreter.access, "/v1/offers?status=pending")
                .await
                .json()
                .await
                .expect("JSON");
            if let Some(offer) = page["items"].as_array().and_then(|items| items.first()) {
                return offer.clone();
            }
            assert!(std::time::Instant::now() < deadline, "no offer arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The interpreter accepts `offer` (as `wait_for_offer` returns it); the session started.
    pub async fn accept(&self, interpreter: &Account, offer: &Value) -> Value {
        let id = offer["id"].as_str().expect("offer id");
        let accepted = self
            .post_empty_as(&interpreter.access, &format!("/v1/offers/{id}/accept"))
            .await;
        assert_eq!(accepted.status(), StatusCode::OK);
        accepted.json().await.expect("JSON")
    }

    /// The interpreter's status as `/v1/interpreters/me` shows it.
    pub async fn status_of(&self, interpreter: &Account) -> String {
        let me: Value = self
            .get_as(&interpreter.access, "/v1/interpreters/me")
            .await
            .json()
            .await
            .expect("JSON");
        me["status"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (up to 30 s, a bound for a loaded machine) until the interpreter's status is
    /// `status`: the witness that a sweep has run, for tests that then check what it left alone.
    pub async fn wait_for_status(&self, interpreter: &Account, status: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.status_of(interpreter).await;
            if now == status {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still {now}, not {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The interpreter's pending offers now.
    pub async fn pending_offers(&self, interpreter: &Account) -> Vec<Value> {
        let page: Value = self
            .get_as(&interpreter.access, "/v1/offers?status=pending")
            .await
            .json()
            .await
            .expect("JSON");
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

/// A signed-up user and its credentials.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_empty_as(&self, token: &str, path: &str) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// The Prometheus text of the separate metrics listener.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.metrics_base))
            .send()
            .await
            .expect("request sent")
            .text()
            .await
            .expect("the metrics text")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// An administrator, created through the store as the command line does, then signed in.
    pub async fn admin(&self) -> Account {
        let email = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
        let password = "administrator password".to_owned();
        let hash = dragoman_http::auth::Passwords::new()
            .expect("hasher")
            .hash(&dragoman_domain::Password::parse(&password).expect("valid"))
            .await
            .expect("hashed");
        let user = self
            .store
            .create_user(dragoman_ports::NewUser {
                id: dragoman_domain::UserId(uuid::Uuid::now_v7()),
                email: dragoman_domain::Email::parse(&email).expect("valid"),
                password_hash: hash,
                display_name: dragoman_domain::DisplayName::parse("Ops").expect("valid"),
                role: dragoman_domain::Role::Admin,
                created_at: chrono::Utc::now(),
            })
            .await
            .expect("created");
        let login: Value = self
            .post(
                "/v1/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await
            .json()
            .await
            .expect("JSON");
        Account {
            id: user.id.to_string(),
            email,
            password,
            access: login["access_token"].as_str().expect("token").to_owned(),
            refresh: login["refresh_token"].as_str().expect("token").to_owned(),
        }
    }

    /// Signs up a new user of `role` with a unique e-mail address.
    pub async fn signup(&self, role: &str) -> Account {
        let email = format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple());
        let password = "correct horse battery".to_owned();
        let body = json!({"email": email, "password": password, "display_name": "Test User", "role": role});
        // The password-hashing budget answers 503 with Retry-After when its queue is full (many
        // sign-ups at once on a loaded machine); a client waits as told and tries again.
        let mut tries = 0;
        let response = loop {
            let response = self.post("/v1/auth/signup", &body).await;
            if response.status() != StatusCode::SERVICE_UNAVAILABLE || tries == 30 {
                break response;
            }
            tries += 1;
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .expect("a 503 from sign-up says when to retry");
            tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
        };
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON");
        Account {
            id: body["user"]["id"].as_str().expect("id").to_owned(),
            email,
            password,
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    /// Stops the application gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task").expect("a clean stop");
        }
    }
}

/// Asserts a problem+json answer with `status` and returns its body.
pub async fn expect_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem");
    for field in ["type", "title", "status", "detail"] {
        assert!(body.get(field).is_some(), "problem without {field}: {body}");
    }
    assert_eq!(body["status"], status);
    body
}
