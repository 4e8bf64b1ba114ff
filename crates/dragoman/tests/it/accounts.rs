//! Accounts through real HTTP: sign-up, login, refresh with rotation and reuse detection,
//! logout, /v1/me, and every kind of bad input.

use std::time::Duration;

use crate::common::{Backend, expect_problem, settings, spawn_app, spawn_with};
use chrono::Utc;
use dragoman_domain::{Role, UserId};
use dragoman_http::auth::Tokens;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    sign_up_then_login_refresh_logout,
    reused_refresh_token_revokes_its_family,
    taken_email_is_a_conflict,
    invalid_sign_ups_are_refused_and_store_nothing,
    bad_tokens_are_unauthorized,
    wrong_credentials_get_one_answer,
    repeated_failures_are_throttled,
);

async fn sign_up_then_login_refresh_logout(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.signup("client").await;

    let me: Value = app
        .get_as(&account.access, "/v1/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(me["id"], account.id.as_str());
    assert_eq!(me["email"], account.email.as_str());
    assert_eq!(me["role"], "client");
    assert_eq!(me["display_name"], "Test User");
    assert!(me["avatar_url"].is_null());
    assert!(me["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let login = app
        .post(
            "/v1/auth/login",
            &json!({"email": account.email.to_uppercase(), "password": account.password}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    let login: Value = login.json().await.expect("JSON");
    assert_eq!(login["user"]["id"], account.id.as_str());
    assert_eq!(login["expires_in"], 900);

    let refreshed = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed: Value = refreshed.json().await.expect("JSON");
    assert_ne!(refreshed["refresh_token"], login["refresh_token"]);
    let access = refreshed["access_token"].as_str().expect("access");
    assert_eq!(app.get_as(access, "/v1/me").await.status(), StatusCode::OK);

    let logout = app
        .post(
            "/v1/auth/logout",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    expect_problem(after, 401).await;
    // The sign-up's own family is separate and still works.
    let other = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": account.refresh}),
        )
        .await;
    assert_eq!(other.status(), StatusCode::OK);
    app.stop().await;
}

async fn reused_refresh_token_revokes_its_family(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.signup("interpreter").await;
    let first: Value = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": account.refresh}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let current = first["refresh_token"].as_str().expect("token").to_owned();

    // An attacker replays the original token: refused, and the family is revoked.
    let replay = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": account.refresh}),
        )
        .await;
    let problem = expect_problem(replay, 401).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("already used")
    );
    // So the legitimate holder's current token no longer works either.
    expect_problem(
        app.post("/v1/auth/refresh", &json!({"refresh_token": current}))
            .await,
        401,
    )
    .await;

    // A fresh login starts a new family.
    let login: Value = app
        .post(
            "/v1/auth/login",
            &json!({"email": account.email, "password": account.password}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let again = app
        .post(
            "/v1/auth/refresh",
            &json!({"refresh_token": login["refresh_token"]}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    app.stop().await;
}

async fn taken_email_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.signup("client").await;
    let again = app
        .post(
            "/v1/auth/signup",
            &json!({"email": account.email.to_uppercase(), "password": "another password", "display_name": "B", "role": "interpreter"}),
        )
        .await;
    let problem = expect_problem(again, 409).await;
    assert_eq!(problem["type"], "urn:dragoman:problem:email-taken");
    app.stop().await;
}

async fn invalid_sign_ups_are_refused_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = "victim@example.org";
    let valid =
        json!({"email": email, "password": "0123456789", "display_name": "Ana", "role": "client"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };
    let mut without_role = valid.clone();
    without_role.as_object_mut().expect("object").remove("role");
    let mut with_extra = valid.clone();
    with_extra["is_admin"] = json!(true);

    let cases: Vec<(&str, Value, u16)> = vec![
        ("wrong type", with("password", json!(1234567890)), 422),
        ("missing field", without_role, 422),
        ("unknown field", with_extra, 422),
        ("null field", with("email", Value::Null), 422),
        ("invalid e-mail", with("email", json!("not-an-email")), 422),
        ("empty e-mail", with("email", json!("")), 422),
        ("short password", with("password", json!("123456789")), 422),
        (
            "long password",
            with("password", json!("x".repeat(129))),
            422,
        ),
        ("admin role", with("role", json!("admin")), 422),
        ("unknown role", with("role", json!("translator")), 422),
        (
            "empty display name",
            with("display_name", json!("   ")),
            422,
        ),
        ("array body", json!([valid.clone()]), 422),
    ];
    for (name, body, status) in cases {
        let response = app.post("/v1/auth/signup", &body).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        expect_problem(response, status).await;
    }

    let raw = |body: &'static str, content_type: &'static str| {
        app.http
            .post(app.url("/v1/auth/signup"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    expect_problem(
        raw("{\"email\": ", "application/json").await.expect("sent"),
        400,
    )
    .await;
    expect_problem(raw("", "application/json").await.expect("sent"), 400).await;
    expect_problem(
        raw("email=a@b.co", "application/x-www-form-urlencoded")
            .await
            .expect("sent"),
        415,
    )
    .await;
    let huge = format!(
        "{{\"email\":\"{email}\",\"password\":\"0123456789\",\"display_name\":\"{}\",\"role\":\"client\"}}",
        "a".repeat(200_000)
    );
    let response = app
        .http
        .post(app.url("/v1/auth/signup"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("sent");
    expect_problem(response, 413).await;

    // Nothing was stored: the address is still free.
    assert_eq!(
        app.post("/v1/auth/signup", &valid).await.status(),
        StatusCode::CREATED
    );
    app.stop().await;
}

async fn bad_tokens_are_unauthorized(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.signup("client").await;

    expect_problem(app.get("/v1/me").await, 401).await;
    let basic = app
        .http
        .get(app.url("/v1/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .expect("sent");
    let problem = expect_problem(basic, 401).await;
    assert_eq!(problem["type"], "urn:dragoman:problem:unauthenticated");
    expect_problem(app.get_as("garbage", "/v1/me").await, 401).await;
    let tampered = format!("{}x", account.access);
    expect_problem(app.get_as(&tampered, "/v1/me").await, 401).await;

    let secret = std::fs::read_to_string(app.data_dir.path().join("jwt-secret"))
        .expect("the generated secret");
    let secret = base64_decode(secret.trim());
    let user = UserId(account.id.parse().expect("uuid"));
    let ours = Tokens::new(&secret, Duration::from_secs(900), Duration::from_secs(60));
    let expired = ours
        .issue_access(user, Role::Client, Utc::now() - chrono::Duration::hours(1))
        .expect("signed");
    let problem = expect_problem(app.get_as(&expired, "/v1/me").await, 401).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );
    let foreign = Tokens::new(
        &[9u8; 32],
        Duration::from_secs(900),
        Duration::from_secs(60),
    )
    .issue_access(user, Role::Admin, Utc::now())
    .expect("signed");
    expect_problem(app.get_as(&foreign, "/v1/me").await, 401).await;
    // The real token still works: none of this changed anything.
    assert_eq!(
        app.get_as(&account.access, "/v1/me").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

async fn wrong_credentials_get_one_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let account = app.signup("client").await;
    let wrong_password = app
        .post(
            "/v1/auth/login",
            &json!({"email": account.email, "password": "not the password"}),
        )
        .await;
    let a = expect_problem(wrong_password, 401).await;
    let unknown = app
        .post(
            "/v1/auth/login",
            &json!({"email": "nobody@example.org", "password": "not the password"}),
        )
        .await;
    let b = expect_problem(unknown, 401).await;
    assert_eq!(
        a, b,
        "unknown e-mail and wrong password must be indistinguishable"
    );
    expect_problem(
        app.post("/v1/auth/login", &json!({"email": "nope", "password": "x"}))
            .await,
        422,
    )
    .await;
    expect_problem(
        app.post("/v1/auth/refresh", &json!({"refresh_token": "made-up"}))
            .await,
        401,
    )
    .await;
    app.stop().await;
}

async fn repeated_failures_are_throttled(backend: Backend) {
    let (mut settings, dir, db) = settings(backend).await;
    settings.http.login_failures_per_account = 3;
    settings.http.login_failures_per_address = 6;
    let app = spawn_with(settings, dir, db).await;
    let account = app.signup("client").await;
    let wrong = json!({"email": account.email, "password": "wrong password"});
    for _ in 0..3 {
        expect_problem(app.post("/v1/auth/login", &wrong).await, 401).await;
    }
    let blocked = app
        .post(
            "/v1/auth/login",
            &json!({"email": account.email, "password": account.password}),
        )
        .await;
    let retry_after: u64 = blocked
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!(retry_after > 0 && retry_after <= 900);
    expect_problem(blocked, 429).await;

    // Another account from the same address: allowed until the address limit.
    let other = app.signup("client").await;
    let wrong_other = json!({"email": other.email, "password": "wrong password"});
    for _ in 0..3 {
        expect_problem(app.post("/v1/auth/login", &wrong_other).await, 401).await;
    }
    let third = app.signup("client").await;
    let by_address = app
        .post(
            "/v1/auth/login",
            &json!({"email": third.email, "password": third.password}),
        )
        .await;
    expect_problem(by_address, 429).await;
    app.stop().await;
}
