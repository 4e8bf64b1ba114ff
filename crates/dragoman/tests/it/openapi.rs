//! The OpenAPI document served at /openapi.json agrees with the contract (docs/api.md, a copy
//! of API.md) and its documented extensions (docs/api-extensions.md): every operation it
//! describes is named in one of them.

use std::collections::BTreeSet;

use serde_json::Value;

/// Operations of the contract's tables: `| METHOD /path | ...`.
fn contract_operations() -> BTreeSet<(String, String)> {
    let text = concat!(
        include_str!("../../../../docs/api.md"),
        include_str!("../../../../docs/api-extensions.md")
    );
    text.lines()
        .filter_map(|line| {
            // A table row `| GET /path | ...`, or a line `GET /path → ...`.
            let cell = line.strip_prefix("| ").unwrap_or(line).split(" |").next()?;
            let (method, rest) = cell.split_once(' ')?;
            let path = rest.split_whitespace().next()?;
            let method = method.to_ascii_lowercase();
            ["get", "post", "put", "delete", "patch"]
                .contains(&method.as_str())
                .then(|| (method, path.split('?').next().unwrap_or(path).to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn every_documented_operation_is_in_the_contract() {
    let app = crate::common::spawn_app(crate::common::Backend::Sqlite).await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let contract = contract_operations();
    assert!(
        contract.len() >= 25,
        "the contract was not parsed: {contract:?}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let mut served = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            served.insert((method.clone(), path.clone()));
        }
    }
    for op in &served {
        assert!(
            contract.contains(op),
            "{op:?} is served but not in the contract"
        );
    }
    for must in [
        ("post", "/v1/auth/signup"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/auth/logout"),
        ("get", "/v1/me"),
        ("put", "/v1/interpreters/me"),
        ("get", "/v1/interpreters/me"),
        ("put", "/v1/interpreters/me/status"),
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/metrics"),
        ("post", "/v1/requests"),
        ("get", "/v1/requests/{id}"),
        ("post", "/v1/requests/{id}/cancel"),
        ("get", "/v1/offers"),
        ("post", "/v1/offers/{id}/accept"),
        ("post", "/v1/offers/{id}/decline"),
        ("get", "/v1/sessions"),
        ("get", "/v1/sessions/{id}"),
        ("post", "/v1/sessions/{id}/end"),
        ("post", "/v1/sessions/{id}/rating"),
        ("get", "/v1/admin/overview"),
        ("get", "/v1/availability"),
        ("get", "/v1/admin/requests/{id}/explanation"),
        ("get", "/v1/admin/jobs"),
        ("post", "/v1/admin/jobs/{id}/retry"),
    ] {
        assert!(
            served.contains(&(must.0.to_owned(), must.1.to_owned())),
            "{must:?} is not documented"
        );
    }
    // Every error answer is described as problem details.
    let signup = &doc["paths"]["/v1/auth/signup"]["post"]["responses"]["409"]["content"];
    assert!(signup.get("application/problem+json").is_some(), "{signup}");
    app.stop().await;
}

/// Every response of every operation has a description, as OpenAPI requires: strict client
/// generators and fuzzers refuse a document without them.
#[tokio::test]
async fn every_response_has_a_description() {
    let app = crate::common::spawn_app(crate::common::Backend::Sqlite).await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    let mut responses = 0;
    let mut without = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let answers = op["responses"].as_object();
            assert!(
                answers.is_some_and(|a| !a.is_empty()),
                "{method} {path} documents no response"
            );
            for (status, response) in answers.into_iter().flatten() {
                responses += 1;
                let described = response["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty());
                if !described {
                    without.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(
        responses >= 60,
        "only {responses} responses: the walk found too few"
    );
    assert!(
        without.is_empty(),
        "{} of {responses} responses have no description:\n{}",
        without.len(),
        without.join("\n")
    );
    app.stop().await;
}

/// Operation ids are unique across the document, as OpenAPI requires (client generators name
/// their functions after them).
#[tokio::test]
async fn operation_ids_are_unique() {
    let app = crate::common::spawn_app(crate::common::Backend::Sqlite).await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("JSON");
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"]
                .as_str()
                .expect("an operationId")
                .to_owned();
            assert!(
                seen.insert(id.clone()),
                "{method} {path}: {id} is not unique"
            );
        }
    }
    app.stop().await;
}
