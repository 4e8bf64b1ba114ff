//! The authorization matrix: every operation of the served OpenAPI document, called by nobody,
//! a client, an interpreter and an administrator, on the caller's own resource and on another
//! user's, answers as docs/api.md says: 401 without a token, 403 for the wrong role, 404 for a
//! resource the caller may not see, and none of those where the caller may act. The operations
//! come from `/openapi.json`, so a new route cannot escape the matrix: one without a rule here
//! fails the test.
//!
//! Beside it, the order of checks for path ids: a path id that is not an id is "not visible"
//! (404), which comes after the body's validity, so with an invalid body it is 422.

use crate::common::{Account, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Anyone, with or without a token.
    Public,
    /// Any signed-in user.
    SignedIn,
    Client,
    Interpreter,
    Admin,
}

/// Which of the resources named by the path a permitted caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The path names no resource of a user (the caller's own account, a list, a public asset).
    Own,
    /// Only its parties (the client and interpreter of a request, offer or session); anyone
    /// else, administrators included, gets 404.
    Parties,
    /// Its parties and administrators.
    PartiesAndAdmins,
    /// Nothing a user owns, and the id of the matrix names nothing: 404 is the answer for
    /// everyone permitted (a dead job's id).
    Unknown,
}

/// The rule of each operation, and a valid body for those that take one (an invalid body would
/// be answered 422 before visibility, hiding a 404).
fn rule(method: &str, path: &str) -> Option<(Who, Seen, Option<Value>)> {
    use Seen::*;
    use Who::*;
    let profile = json!({"languages": [{"code": "es", "level": "professional", "certified": false}],
        "specializations": ["general"], "modalities": ["video", "audio"]});
    Some(match (method, path) {
        ("get", "/health" | "/ready" | "/metrics" | "/openapi.json" | "/v1/assets/{path}") => {
            (Public, Own, None)
        }
        // Sign-up and the token routes read no bearer token: an empty body is 422 for anyone.
        ("post", "/v1/auth/signup" | "/v1/auth/login" | "/v1/auth/refresh" | "/v1/auth/logout") => {
            (Public, Own, Some(json!({})))
        }
        ("get", "/v1/me" | "/v1/availability" | "/v1/sessions") => (SignedIn, Own, None),
        ("post", "/v1/ws/ticket") => (SignedIn, Own, None),
        ("post", "/v1/me/avatar") => (
            SignedIn,
            Own,
            Some(json!({"content_type": "image/png", "size_bytes": 100})),
        ),
        ("post", "/v1/me/avatar/complete") => (SignedIn, Own, None),
        ("get", "/v1/interpreters/me") | ("get", "/v1/offers") => (Interpreter, Own, None),
        ("put", "/v1/interpreters/me") => (Interpreter, Own, Some(profile)),
        ("put", "/v1/interpreters/me/status") => {
            (Interpreter, Own, Some(json!({"status": "away"})))
        }
        ("post", "/v1/offers/{id}/accept" | "/v1/offers/{id}/decline") => {
            (Interpreter, Parties, None)
        }
        ("post", "/v1/requests") => (Client, Own, Some(json!({"language": "de"}))),
        ("get", "/v1/requests/{id}") => (SignedIn, PartiesAndAdmins, None),
        ("post", "/v1/requests/{id}/cancel") => (Client, Parties, None),
        ("get", "/v1/sessions/{id}") => (SignedIn, PartiesAndAdmins, None),
        ("post", "/v1/sessions/{id}/end") => (SignedIn, Parties, None),
        ("post", "/v1/sessions/{id}/rating") => (Client, Parties, Some(json!({"stars": 5}))),
        ("post", "/v1/sessions/{id}/documents") => (
            SignedIn,
            Parties,
            Some(
                json!({"filename": "notes.pdf", "content_type": "application/pdf", "size_bytes": 100}),
            ),
        ),
        ("get", "/v1/sessions/{id}/documents")
        | ("get", "/v1/sessions/{id}/documents/{doc_id}")
        | ("post", "/v1/sessions/{id}/documents/{doc_id}/complete") => (SignedIn, Parties, None),
        ("get", "/v1/admin/overview" | "/v1/admin/jobs") => (Admin, Own, None),
        ("get", "/v1/admin/requests/{id}/explanation") => (Admin, PartiesAndAdmins, None),
        ("post", "/v1/admin/jobs/{id}/retry") => (Admin, Unknown, None),
        _ => return None,
    })
}

/// One side of the matrix: a client and an interpreter with a request, its offer (accepted), the
/// session and a document of it.
#[derive(Debug)]
struct World {
    client: Account,
    interpreter: Account,
    request: String,
    offer: String,
    session: String,
    document: String,
}

async fn world(app: &TestApp, language: &str) -> World {
    let interpreter = app.interpreter_speaking(&[language]).await;
    let client = app.signup("client").await;
    let created = app
        .post_as(
            &client.access,
            "/v1/requests",
            &json!({"language": language}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let request: Value = created.json().await.expect("JSON");
    let offer = app.wait_for_offer(&interpreter).await;
    let session = app.accept(&interpreter, &offer).await;
    let session_id = session["id"].as_str().expect("session id").to_owned();
    let upload = app
        .post_as(
            &client.access,
            &format!("/v1/sessions/{session_id}/documents"),
            &json!({"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 10}),
        )
        .await;
    assert_eq!(upload.status(), StatusCode::CREATED);
    let upload: Value = upload.json().await.expect("JSON");
    World {
        request: request["id"].as_str().expect("request id").to_owned(),
        offer: offer["id"].as_str().expect("offer id").to_owned(),
        session: session_id,
        document: upload["document"]["id"]
            .as_str()
            .expect("document id")
            .to_owned(),
        client,
        interpreter,
    }
}

/// The path with its parameters filled from `world`.
fn fill(path: &str, world: &World) -> String {
    let id = if path.starts_with("/v1/offers/") {
        world.offer.as_str()
    } else if path.starts_with("/v1/sessions/") {
        world.session.as_str()
    } else if path.starts_with("/v1/requests/") || path.starts_with("/v1/admin/requests/") {
        world.request.as_str()
    } else {
        "0190c5a4-0000-7000-8000-000000000000"
    };
    path.replace("{id}", id)
        .replace("{doc_id}", &world.document)
        .replace("{path}", "no-such-asset.json")
}

/// What a cell of the matrix must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Exactly(u16),
    /// Anything but these: the caller is let through (a 2xx, or a state's 409, or a 422).
    NoneOf(&'static [u16]),
}

impl Expect {
    fn holds(self, status: u16) -> bool {
        match self {
            Expect::Exactly(s) => s == status,
            Expect::NoneOf(refused) => !refused.contains(&status),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum As {
    Nobody,
    Client,
    Interpreter,
    Admin,
}

fn expected(who: Who, seen: Seen, caller: As, own: bool) -> Expect {
    const LET_THROUGH: &[u16] = &[401, 403, 404];
    const LET_THROUGH_UNKNOWN: &[u16] = &[401, 403];
    if who == Who::Public {
        return Expect::NoneOf(&[401, 403]);
    }
    let permitted = match (who, caller) {
        (_, As::Nobody) => return Expect::Exactly(401),
        (Who::SignedIn, _) => true,
        (Who::Client, As::Client) | (Who::Interpreter, As::Interpreter) => true,
        (Who::Admin, As::Admin) => true,
        _ => false,
    };
    if !permitted {
        return Expect::Exactly(403);
    }
    match (seen, caller) {
        (Seen::Own, _) => Expect::NoneOf(LET_THROUGH),
        (Seen::Unknown, _) => Expect::NoneOf(LET_THROUGH_UNKNOWN),
        (Seen::Parties, As::Admin) => Expect::Exactly(404),
        (Seen::PartiesAndAdmins, As::Admin) => Expect::NoneOf(LET_THROUGH),
        (_, _) if own => Expect::NoneOf(LET_THROUGH),
        (_, _) => Expect::Exactly(404),
    }
}

/// The served operations: (method, path, takes a body).
async fn operations(app: &TestApp) -> Vec<(String, String, bool)> {
    let doc: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            ops.push((
                method.clone(),
                path.clone(),
                op.get("requestBody").is_some(),
            ));
        }
    }
    assert!(ops.len() >= 30, "the document lists too few operations");
    ops
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> u16 {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("a method");
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_each_caller_as_the_contract_says() {
    let app = crate::common::spawn_app(crate::common::Backend::Sqlite).await;
    let admin = app.admin().await;
    let mine = world(&app, "es").await;
    let theirs = world(&app, "fr").await;

    let ops = operations(&app).await;
    let missing: Vec<_> = ops
        .iter()
        .filter(|(m, p, _)| rule(m, p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "operations with no rule in the authorization matrix: {missing:?}"
    );

    let mut cases = 0;
    let mut wrong = Vec::new();
    for (method, path, takes_body) in &ops {
        let (who, seen, body) = rule(method, path).expect("a rule");
        assert_eq!(
            body.is_some(),
            *takes_body,
            "{method} {path}: the matrix's body and the document disagree"
        );
        for caller in [As::Nobody, As::Client, As::Interpreter, As::Admin] {
            let token = match caller {
                As::Nobody => None,
                As::Client => Some(mine.client.access.as_str()),
                As::Interpreter => Some(mine.interpreter.access.as_str()),
                As::Admin => Some(admin.access.as_str()),
            };
            for (own, world) in [(true, &mine), (false, &theirs)] {
                let expect = expected(who, seen, caller, own);
                let url = fill(path, world);
                let status = send(&app, method, &url, token, body.as_ref()).await;
                cases += 1;
                if !expect.holds(status) {
                    wrong.push(format!(
                        "{method} {url} as {caller:?} ({}): {status}, expected {expect:?}",
                        if own { "own" } else { "other's" }
                    ));
                }
            }
        }
    }
    println!(
        "authorization matrix: {cases} cases over {} operations",
        ops.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    app.stop().await;
}

/// For every operation with a path id and a body: a malformed id with an invalid body is 422
/// (the body's validity comes before visibility), for the role the operation admits (others
/// get their 403 first); never 404. Without a token it is 401, never 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_path_id_is_404_only_after_the_body_is_valid() {
    let app = crate::common::spawn_app(crate::common::Backend::Sqlite).await;
    let admin = app.admin().await;
    let client = app.signup("client").await;
    let interpreter = app.signup("interpreter").await;
    let mut checked = 0;
    for (method, path, takes_body) in operations(&app).await {
        if !path.contains("/{id}") {
            continue;
        }
        let url = path
            .replace("{id}", "not-an-id")
            .replace("{doc_id}", "not-an-id-either");
        assert_eq!(
            send(&app, &method, &url, None, Some(&json!([]))).await,
            401,
            "{method} {url} without a token"
        );
        if !takes_body {
            continue;
        }
        let mut answers = Vec::new();
        for token in [&client.access, &interpreter.access, &admin.access] {
            // An array where an object is expected: well-formed JSON, invalid values.
            answers.push(send(&app, &method, &url, Some(token.as_str()), Some(&json!([]))).await);
        }
        assert!(
            answers.iter().all(|s| *s == 403 || *s == 422) && answers.contains(&422),
            "{method} {url} with an invalid body: {answers:?}, expected 422 (or 403 for a role it refuses)"
        );
        checked += 1;
    }
    assert!(checked >= 2, "no operation with a path id and a body found");
    app.stop().await;
}
