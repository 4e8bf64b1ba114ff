//! The password endpoints under attack, through real HTTP: guesses raced past the login limit,
//! an owner locked out by someone else's failures, floods of sign-ups from one address and from
//! many, devices piled up on one account, and addresses or names that display as something they
//! are not. Each test plays the attack and shows the answer it gets.

use std::net::IpAddr;
use std::time::Duration;

use crate::common::{Backend, TestApp, expect_problem, settings, spawn_with};
use dragoman_http::auth::{AddressLimit, PasswordBudget};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

on_every_backend!(
    concurrent_guesses_are_counted_before_they_are_checked,
    failures_from_one_address_do_not_lock_out_the_owner,
    sign_ups_are_limited_per_address,
    a_spent_hashing_budget_answers_503_with_retry_after,
    refresh_families_beyond_the_cap_are_signed_out,
    invisible_and_reordering_characters_are_refused,
);

/// A request from `address`, as the load balancer would say it (TRUST_FORWARDED_FOR).
async fn post_from(app: &TestApp, address: &str, path: &str, body: &Value) -> Response {
    app.http
        .post(app.url(path))
        .header("x-forwarded-for", address)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

fn sign_up_body(email: &str) -> Value {
    json!({"email": email, "password": "correct horse battery", "display_name": "Ana", "role": "client"})
}

fn unique_email() -> String {
    format!("c-{}@example.org", uuid::Uuid::new_v4().simple())
}

fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds")
}

async fn concurrent_guesses_are_counted_before_they_are_checked(backend: Backend) {
    let (mut settings, dir, db) = settings(backend).await;
    settings.http.trust_forwarded_for = true;
    let app = spawn_with(settings, dir, db).await;
    let account = app.signup("client").await;
    let wrong = json!({"email": account.email, "password": "wrong password"});

    let guesses = (0..30).map(|_| post_from(&app, "198.51.100.7", "/v1/auth/login", &wrong));
    let statuses: Vec<u16> = futures::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    println!("30 concurrent guesses: {checked} checked (401), {refused} refused (429)");
    assert_eq!(
        checked + refused,
        30,
        "every guess is checked or refused: {statuses:?}"
    );
    assert_eq!(
        checked, 10,
        "exactly LOGIN_MAX_FAILURES_PER_ACCOUNT passwords were checked: {statuses:?}"
    );
    app.stop().await;
}

async fn failures_from_one_address_do_not_lock_out_the_owner(backend: Backend) {
    let (mut settings, dir, db) = settings(backend).await;
    settings.http.trust_forwarded_for = true;
    let app = spawn_with(settings, dir, db).await;
    let owner = app.signup("client").await;
    let wrong = json!({"email": owner.email, "password": "wrong password"});
    let right = json!({"email": owner.email, "password": owner.password});
    let (attacker, home) = ("203.0.113.66", "192.0.2.10");

    for _ in 0..10 {
        expect_problem(
            post_from(&app, attacker, "/v1/auth/login", &wrong).await,
            401,
        )
        .await;
    }
    let blocked = post_from(&app, attacker, "/v1/auth/login", &right).await;
    assert!(retry_after(&blocked) > 0);
    expect_problem(blocked, 429).await;

    let from_home = post_from(&app, home, "/v1/auth/login", &right).await;
    assert_eq!(
        from_home.status(),
        StatusCode::OK,
        "the owner, at an address with no failures for the account, signs in"
    );
    assert_eq!(
        post_from(&app, home, "/v1/auth/login", &right)
            .await
            .status(),
        StatusCode::OK,
        "and again"
    );
    // The attacker's address stays blocked for this account, right password or wrong.
    expect_problem(
        post_from(&app, attacker, "/v1/auth/login", &right).await,
        429,
    )
    .await;
    expect_problem(
        post_from(&app, attacker, "/v1/auth/login", &wrong).await,
        429,
    )
    .await;
    app.stop().await;
}

async fn sign_ups_are_limited_per_address(backend: Backend) {
    let (mut settings, dir, db) = settings(backend).await;
    settings.http.trust_forwarded_for = true;
    settings.http.signup_limit = AddressLimit::signup(3, Duration::from_secs(3600));
    let app = spawn_with(settings, dir, db).await;
    let flood = "198.51.100.20";

    expect_problem(
        post_from(&app, flood, "/v1/auth/signup", &json!({"email": "x"})).await,
        422,
    )
    .await;
    let first = unique_email();
    for email in [first.clone(), unique_email()] {
        let r = post_from(&app, flood, "/v1/auth/signup", &sign_up_body(&email)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // A taken address counts too: probing which e-mails have accounts is bounded as well.
    expect_problem(
        post_from(&app, flood, "/v1/auth/signup", &sign_up_body(&first)).await,
        409,
    )
    .await;
    let over = post_from(
        &app,
        flood,
        "/v1/auth/signup",
        &sign_up_body(&unique_email()),
    )
    .await;
    let wait = retry_after(&over);
    assert!(wait > 3500 && wait <= 3600, "{wait}");
    let problem = expect_problem(over, 429).await;
    assert_eq!(problem["type"], "urn:dragoman:problem:rate-limited");

    let elsewhere = post_from(
        &app,
        "198.51.100.21",
        "/v1/auth/signup",
        &sign_up_body(&unique_email()),
    )
    .await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED, "another address");
    // One IPv6 subscriber (a /64) is one address.
    for (n, address) in ["2001:db8:5:6::1", "2001:db8:5:6::2", "2001:db8:5:6:ff::3"]
        .into_iter()
        .enumerate()
    {
        let r = post_from(
            &app,
            address,
            "/v1/auth/signup",
            &sign_up_body(&unique_email()),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{n}");
    }
    expect_problem(
        post_from(
            &app,
            "2001:db8:5:6:abcd::9",
            "/v1/auth/signup",
            &sign_up_body(&unique_email()),
        )
        .await,
        429,
    )
    .await;
    app.stop().await;
}

async fn a_spent_hashing_budget_answers_503_with_retry_after(backend: Backend) {
    let (mut settings, dir, db) = settings(backend).await;
    settings.http.trust_forwarded_for = true;
    settings.http.password_budget = PasswordBudget {
        concurrency: 1,
        queue: Duration::ZERO,
    };
    settings.http.signup_limit = AddressLimit::signup(1, Duration::from_secs(3600));
    let app = spawn_with(settings, dir, db).await;

    let sign_ups = (0..20u8).map(|n| {
        // Each from its own address: the per-address limit is not what refuses them.
        let email = unique_email();
        let app = &app;
        async move {
            post_from(
                app,
                &IpAddr::from([198, 51, 100, n]).to_string(),
                "/v1/auth/signup",
                &sign_up_body(&email),
            )
            .await
        }
    });
    let answers = futures::future::join_all(sign_ups).await;
    let mut created = Vec::new();
    let mut overloaded = Vec::new();
    for (n, answer) in answers.into_iter().enumerate() {
        let address = IpAddr::from([198, 51, 100, n as u8]).to_string();
        match answer.status().as_u16() {
            201 => created.push(address),
            503 => {
                assert!(retry_after(&answer) >= 1);
                let problem = expect_problem(answer, 503).await;
                assert_eq!(problem["type"], "urn:dragoman:problem:overloaded");
                overloaded.push(address);
            }
            other => panic!("a sign-up answered {other}"),
        }
    }
    println!(
        "20 concurrent sign-ups, one hashing slot, no queue: {} created, {} told to retry",
        created.len(),
        overloaded.len()
    );
    assert!(!created.is_empty(), "the slot served someone");
    assert!(
        !overloaded.is_empty(),
        "20 hashes of tens of milliseconds each cannot all have had the only slot in turn"
    );

    // One sign-up per address: an overloaded sign-up was given back to its address (it
    // succeeds now, one at a time), a served one was not (429).
    for address in &overloaded {
        let again = post_from(
            &app,
            address,
            "/v1/auth/signup",
            &sign_up_body(&unique_email()),
        )
        .await;
        assert_eq!(again.status(), StatusCode::CREATED, "{address}");
    }
    let again = post_from(
        &app,
        &created[0],
        "/v1/auth/signup",
        &sign_up_body(&unique_email()),
    )
    .await;
    expect_problem(again, 429).await;
    app.stop().await;
}

async fn refresh_families_beyond_the_cap_are_signed_out(backend: Backend) {
    let (mut settings, dir, db) = settings(backend).await;
    settings.http.refresh_families_per_user = 2;
    let app = spawn_with(settings, dir, db).await;
    let account = app.signup("client").await;
    let login = json!({"email": account.email, "password": account.password});
    let mut refresh_tokens = vec![account.refresh.clone()];
    for _ in 0..2 {
        let body: Value = app
            .post("/v1/auth/login", &login)
            .await
            .json()
            .await
            .expect("JSON");
        refresh_tokens.push(body["refresh_token"].as_str().expect("token").to_owned());
    }
    let oldest = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": refresh_tokens[0]}),
        )
        .await;
    expect_problem(oldest, 401).await;
    for kept in &refresh_tokens[1..] {
        let r = app
            .post("/v1/auth/refresh", &json!({"refresh_token": kept}))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "the two newest devices stay");
    }
    app.stop().await;
}

async fn invisible_and_reordering_characters_are_refused(backend: Backend) {
    let (settings, dir, db) = settings(backend).await;
    let app = spawn_with(settings, dir, db).await;
    let stamp = uuid::Uuid::new_v4().simple().to_string();

    // A look-alike of an existing address, with a zero-width space inside.
    let lookalike = format!("ad\u{200B}min-{stamp}@example.org");
    let refused = expect_problem(
        app.post("/v1/auth/signup", &sign_up_body(&lookalike)).await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "email");

    let reversed = json!({"email": unique_email(), "password": "correct horse battery",
        "display_name": "Ana\u{202E}fdp.exe", "role": "client"});
    let refused = expect_problem(app.post("/v1/auth/signup", &reversed).await, 422).await;
    assert_eq!(refused["errors"][0]["field"], "display_name");

    // One mailbox, typed composed or decomposed, is one account.
    let decomposed = format!("jose\u{301}-{stamp}@example.org");
    let composed = format!("jos\u{E9}-{stamp}@example.org");
    let created = app
        .post("/v1/auth/signup", &sign_up_body(&decomposed))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("JSON");
    assert_eq!(created["user"]["email"], composed.as_str());
    expect_problem(
        app.post("/v1/auth/signup", &sign_up_body(&composed)).await,
        409,
    )
    .await;
    let login = app
        .post(
            "/v1/auth/login",
            &json!({"email": composed, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    app.stop().await;
}

/// The peak resident memory of a process (VmHWM), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmHWM line")
}

/// The real binary, as deployed (embedded storage), for measuring the whole process.
struct Server {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_binary(envs: &[(&str, &str)]) -> Server {
    let dir = tempfile::tempdir().expect("a data directory");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dragoman"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir.path())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "warn")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let child = command.spawn().expect("the binary starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(format!("{}/health", server.base)).await
            && r.status() == StatusCode::OK
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the binary did not answer /health");
}

/// Two hundred sign-ups at once, each from its own address (so the per-address limit is not
/// what stops them), against the real binary: the hashing budget bounds the memory they can
/// take. Argon2 holds 19 MiB per hash; the bound allows twice that per slot (allocator slack)
/// and 64 MiB for everything else two hundred requests bring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sign_ups_stay_within_the_hashing_budget() {
    const SLOTS: u64 = 2;
    let server = start_binary(&[
        ("TRUST_FORWARDED_FOR", "true"),
        ("PASSWORD_HASH_CONCURRENCY", &SLOTS.to_string()),
    ])
    .await;
    let pid = server.child.id();
    let http = reqwest::Client::new();
    let sign_up = |n: u32| {
        let http = http.clone();
        let url = format!("{}/v1/auth/signup", server.base);
        async move {
            http.post(url)
                .header(
                    "x-forwarded-for",
                    std::net::Ipv4Addr::from(0x0a00_0000u32 + n).to_string(),
                )
                .json(&sign_up_body(&unique_email()))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    // One sign-up first, so that the baseline includes what any first request brings.
    assert_eq!(sign_up(0).await, 201);
    let baseline = peak_kib(pid);

    let statuses = futures::future::join_all((1..=200).map(sign_up)).await;
    let peak = peak_kib(pid);
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    let bound = baseline + SLOTS * 19 * 1024 * 2 + 64 * 1024;
    println!(
        "200 concurrent sign-ups with PASSWORD_HASH_CONCURRENCY={SLOTS}: {} created, {} told to \
         retry (503); peak resident memory (VmHWM) {} MiB, {} MiB before the burst, bound {} MiB",
        count(201),
        count(503),
        peak / 1024,
        baseline / 1024,
        bound / 1024
    );
    assert_eq!(
        count(201) + count(503),
        200,
        "every sign-up was served or told to retry: {statuses:?}"
    );
    assert!(count(201) >= 1, "the budget served sign-ups");
    assert!(
        peak <= bound,
        "peak {peak} KiB is over {bound} KiB (baseline {baseline} KiB)"
    );
}
