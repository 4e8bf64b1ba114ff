//! Drives `deploy/local/stack`: a fleet of real `dragoman` processes behind a private nginx, on
//! PostgreSQL through PgBouncer and a Redis of its own. Each stack has its own directory,
//! database and ports; dropping it stops everything it started.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::ws::{self, Socket};

pub struct Stack {
    dir: tempfile::TempDir,
    database: String,
    env: HashMap<String, String>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/stack")
}

impl Stack {
    /// Starts a stack whose instances also get `settings`. Panics (never skips) if any part,
    /// nginx included, does not start.
    pub fn up(settings: &[(&str, &str)]) -> Stack {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = format!("dragoman_t_stack_{}", uuid::Uuid::new_v4().simple());
        let mut stack = Stack {
            dir,
            database,
            env: HashMap::new(),
        };
        let output = stack
            .command("up")
            .envs(settings.iter().copied())
            .output()
            .expect("deploy/local/stack runs");
        assert!(
            output.status.success(),
            "deploy/local/stack up failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let env = std::fs::read_to_string(stack.dir.path().join("stack.env"))
            .expect("stack.env written by up");
        stack.env = env
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        stack
    }

    fn command(&self, verb: &str) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(script())
            .arg(verb)
            .env("STACK_DIR", self.dir.path())
            .env("STACK_DATABASE", &self.database)
            .env("DRAGOMAN_BIN", env!("CARGO_BIN_EXE_dragoman"))
            .env("SHUTDOWN_TIMEOUT_SECS", "5")
            .env("LOG_LEVEL", "info");
        command
    }

    fn value(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from stack.env"))
    }

    /// nginx's address.
    pub fn balancer(&self) -> String {
        self.value("STACK_URL").to_owned()
    }

    /// Instance `n`'s own address (1-based).
    pub fn instance(&self, n: usize) -> String {
        self.value(&format!("STACK_INSTANCE_{n}_URL")).to_owned()
    }

    /// `kill -9` of instance `n`, through the script.
    pub fn kill(&self, n: usize) {
        let status = self
            .command("kill")
            .arg(n.to_string())
            .status()
            .expect("deploy/local/stack runs");
        assert!(status.success(), "stack kill {n}");
    }

    pub fn status_ok(&self) -> bool {
        self.command("status")
            .output()
            .expect("deploy/local/stack runs")
            .status
            .success()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self
            .command("down")
            .env("STACK_DROP_DATABASE", "1")
            .output();
    }
}

/// An HTTP client of one address; through nginx, `affinity` is its sticky cookie.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub affinity: Option<String>,
    http: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub access: String,
}

impl Api {
    pub fn new(base: String, affinity: Option<&str>) -> Api {
        Self::build(base, affinity, reqwest::Client::builder())
    }

    /// A client whose connections leave from `source`, an address of 127.0.0.0/8: to the
    /// balancer it is another machine.
    pub fn from_address(base: String, source: &str) -> Api {
        let source: std::net::IpAddr = source.parse().expect("an IP address");
        Self::build(base, None, reqwest::Client::builder().local_address(source))
    }

    fn build(base: String, affinity: Option<&str>, builder: reqwest::ClientBuilder) -> Api {
        Api {
            base,
            affinity: affinity.map(str::to_owned),
            http: builder
                .timeout(Duration::from_secs(20))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// POST /v1/auth/login; the response's status.
    pub async fn login_status(&self, email: &str, password: &str) -> StatusCode {
        self.send(
            reqwest::Method::POST,
            "/v1/auth/login",
            "",
            Some(json!({"email": email, "password": password})),
        )
        .await
        .status()
    }

    fn request(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            r = r.bearer_auth(token);
        }
        if let Some(a) = &self.affinity {
            r = r.header("cookie", format!("dragoman_affinity={a}"));
        }
        r
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self.request(method, path, token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.expect("request sent")
    }

    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let response = self.send(method, path, token, body).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// Which instance nginx sends this client to (the `X-Upstream` header).
    pub async fn upstream(&self) -> String {
        let response = self.send(reqwest::Method::GET, "/health", "", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        response
            .headers()
            .get("x-upstream")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn signup(&self, role: &str) -> Account {
        let email = format!("{role}-{}@example.org", uuid::Uuid::new_v4().simple());
        self.signup_as(role, &email).await
    }

    /// Signs up `email` with the password "correct horse battery".
    pub async fn signup_as(&self, role: &str, email: &str) -> Account {
        let body = json!({"email": email, "password": "correct horse battery", "display_name": "Test User", "role": role});
        let response = self
            .send(reqwest::Method::POST, "/v1/auth/signup", "", Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let v: Value = response.json().await.expect("JSON");
        Account {
            id: v["user"]["id"].as_str().expect("id").to_owned(),
            access: v["access_token"].as_str().expect("token").to_owned(),
        }
    }

    /// An interpreter of `languages`, not yet available.
    pub async fn interpreter(&self, languages: &[&str]) -> Account {
        let account = self.signup("interpreter").await;
        let langs: Vec<Value> = languages
            .iter()
            .map(|l| json!({"code": l, "level": "professional", "certified": true}))
            .collect();
        let profile =
            json!({"languages": langs, "specializations": ["general"], "modalities": ["video"]});
        self.json(
            reqwest::Method::PUT,
            "/v1/interpreters/me",
            &account.access,
            Some(profile),
        )
        .await;
        account
    }

    pub async fn set_status(&self, account: &Account, status: &str) {
        self.json(
            reqwest::Method::PUT,
            "/v1/interpreters/me/status",
            &account.access,
            Some(json!({"status": status})),
        )
        .await;
    }

    /// `client` asks for an interpreter of `language`; the created request.
    pub async fn ask_for(&self, client: &Account, language: &str) -> Value {
        self.json(
            reqwest::Method::POST,
            "/v1/requests",
            &client.access,
            Some(json!({"language": language})),
        )
        .await
    }

    /// `interpreter` accepts `offer`, an `offer.created` event.
    pub async fn accept(&self, interpreter: &Account, offer: &Value) {
        let id = offer["data"]["id"].as_str().expect("offer id");
        self.json(
            reqwest::Method::POST,
            &format!("/v1/offers/{id}/accept"),
            &interpreter.access,
            None,
        )
        .await;
    }

    pub async fn status_of(&self, account: &Account) -> String {
        let me = self
            .json(
                reqwest::Method::GET,
                "/v1/interpreters/me",
                &account.access,
                None,
            )
            .await;
        me["status"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn connect(&self, account: &Account) -> Socket {
        let cookie = self
            .affinity
            .as_ref()
            .map(|a| ("cookie", format!("dragoman_affinity={a}")));
        ws::connect_at(&self.base, &account.access, cookie.as_slice()).await
    }
}

/// Subscribes to availability and returns once the server has read the subscription (a probe
/// message after it is answered in order).
pub async fn subscribe_availability(socket: &mut Socket) {
    ws::send(
        socket,
        json!({"type": "subscribe", "topic": "availability"}),
    )
    .await;
    ws::until_probe_answered(socket).await;
}
