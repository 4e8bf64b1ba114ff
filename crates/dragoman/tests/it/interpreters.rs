//! Interpreter profiles and manual status through real HTTP.

use crate::common::{Backend, expect_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    profile_round_trip_and_status,
    language_codes_are_checked_against_iso_639,
    clients_cannot_touch_interpreter_resources,
    invalid_profiles_change_nothing,
);

fn profile() -> Value {
    json!({
        "languages": [
            {"code": "es", "level": "native", "certified": true},
            {"code": "ase", "level": "professional", "certified": false},
            {"code": "zh", "level": "conversational", "certified": false}
        ],
        "specializations": ["medical", "legal"],
        "modalities": ["video", "audio"]
    })
}

async fn profile_round_trip_and_status(backend: Backend) {
    let app = spawn_app(backend).await;
    let i = app.signup("interpreter").await;

    let fresh: Value = app
        .get_as(&i.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert!(fresh["profile"].is_null());
    assert_eq!(fresh["status"]["status"], "offline");

    // Without a profile nothing could be offered: becoming available is refused.
    let early = app
        .put_as(
            &i.access,
            "/v1/interpreters/me/status",
            &json!({"status": "available"}),
        )
        .await;
    let problem = expect_problem(early, 409).await;
    assert_eq!(problem["type"], "urn:dragoman:problem:no-profile");

    let saved = app
        .put_as(&i.access, "/v1/interpreters/me", &profile())
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = saved.json().await.expect("JSON");
    assert_eq!(saved, profile());

    let available = app
        .put_as(
            &i.access,
            "/v1/interpreters/me/status",
            &json!({"status": "available"}),
        )
        .await;
    assert_eq!(available.status(), StatusCode::OK);
    let available: Value = available.json().await.expect("JSON");
    assert_eq!(available["status"], "available");

    // Setting the same status again keeps its `since`.
    let again: Value = app
        .put_as(
            &i.access,
            "/v1/interpreters/me/status",
            &json!({"status": "available"}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(again["since"], available["since"]);

    let read: Value = app
        .get_as(&i.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(read["profile"], profile());
    assert_eq!(read["status"], available);

    for status in ["away", "offline"] {
        let r = app
            .put_as(
                &i.access,
                "/v1/interpreters/me/status",
                &json!({"status": status}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    for status in ["busy", "reserved", "wrap_up", "AVAILABLE", ""] {
        let r = app
            .put_as(
                &i.access,
                "/v1/interpreters/me/status",
                &json!({"status": status}),
            )
            .await;
        expect_problem(r, 422).await;
    }
    app.stop().await;
}

async fn language_codes_are_checked_against_iso_639(backend: Backend) {
    let app = spawn_app(backend).await;
    let i = app.signup("interpreter").await;
    for good in ["es", "ase", "zh", "fr", "yue"] {
        let mut p = profile();
        p["languages"] = json!([{"code": good, "level": "native", "certified": false}]);
        let r = app.put_as(&i.access, "/v1/interpreters/me", &p).await;
        assert_eq!(r.status(), StatusCode::OK, "{good} should pass");
    }
    for bad in ["xx", "english", "", "ES", "spa", "es-MX"] {
        let mut p = profile();
        p["languages"] = json!([{"code": bad, "level": "native", "certified": false}]);
        let r = app.put_as(&i.access, "/v1/interpreters/me", &p).await;
        let problem = expect_problem(r, 422).await;
        assert_eq!(problem["errors"][0]["field"], "languages[0].code", "{bad}");
    }
    app.stop().await;
}

async fn clients_cannot_touch_interpreter_resources(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = app.signup("client").await;
    expect_problem(app.get_as(&c.access, "/v1/interpreters/me").await, 403).await;
    expect_problem(
        app.put_as(&c.access, "/v1/interpreters/me", &profile())
            .await,
        403,
    )
    .await;
    // Role is checked before the body: an invalid body from a client is still 403.
    expect_problem(
        app.put_as(&c.access, "/v1/interpreters/me", &json!({"bogus": 1}))
            .await,
        403,
    )
    .await;
    expect_problem(
        app.put_as(
            &c.access,
            "/v1/interpreters/me/status",
            &json!({"status": "available"}),
        )
        .await,
        403,
    )
    .await;
    // And authentication before the role.
    expect_problem(
        app.put_as("nonsense", "/v1/interpreters/me", &json!({"bogus": 1}))
            .await,
        401,
    )
    .await;
    app.stop().await;
}

async fn invalid_profiles_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let i = app.signup("interpreter").await;
    assert_eq!(
        app.put_as(&i.access, "/v1/interpreters/me", &profile())
            .await
            .status(),
        StatusCode::OK
    );
    let bad_bodies = [
        json!({"languages": [], "specializations": ["medical"], "modalities": ["video"]}),
        json!({"languages": [{"code": "es", "level": "native", "certified": true}, {"code": "es", "level": "native", "certified": true}], "specializations": ["medical"], "modalities": ["video"]}),
        json!({"languages": [{"code": "es", "level": "fluent", "certified": true}], "specializations": ["medical"], "modalities": ["video"]}),
        json!({"languages": [{"code": "es", "level": "native", "certified": "yes"}], "specializations": ["medical"], "modalities": ["video"]}),
        json!({"languages": [{"code": "es", "level": "native", "certified": true}], "specializations": ["astrology"], "modalities": ["video"]}),
        json!({"languages": [{"code": "es", "level": "native", "certified": true}], "specializations": [], "modalities": ["video"]}),
        json!({"languages": [{"code": "es", "level": "native", "certified": true}], "specializations": ["medical"], "modalities": ["telepathy"]}),
        json!({"languages": [{"code": "es", "level": "native", "certified": true}], "specializations": ["medical"]}),
    ];
    for body in bad_bodies {
        expect_problem(
            app.put_as(&i.access, "/v1/interpreters/me", &body).await,
            422,
        )
        .await;
    }
    let read: Value = app
        .get_as(&i.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        read["profile"],
        profile(),
        "a refused update must leave the profile as it was"
    );
    app.stop().await;
}
