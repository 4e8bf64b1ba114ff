//! Offer timeouts, repeated misses, request expiry and wrap-up, on a manual clock: the clock is
//! advanced and the timers swept, nothing waits for real time.

use std::sync::Arc;

use crate::common::{Backend, TestApp, expect_problem, settings, spawn_with_clock};
use chrono::{TimeDelta, Utc};
use dragoman_ports::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    an_unanswered_offer_goes_to_the_next_candidate,
    three_missed_offers_in_a_row_set_the_interpreter_away,
    a_request_unmatched_for_the_maximum_wait_expires,
    wrap_up_ends_after_its_pause,
);

async fn spawn(backend: Backend) -> (TestApp, Arc<ManualClock>) {
    let (settings, dir, db) = settings(backend).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = spawn_with_clock(settings, dir, db, clock.clone()).await;
    (app, clock)
}

/// Advances the clock and settles what is due, then lets matching run.
async fn advance(app: &TestApp, clock: &ManualClock, seconds: i64) {
    clock.advance(TimeDelta::seconds(seconds));
    app.matching.sweep().await.expect("timers swept");
    app.matching.rounds().await.expect("matching ran");
}

async fn status_of(app: &TestApp, interpreter: &crate::common::Account) -> String {
    let me: Value = app
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

async fn an_unanswered_offer_goes_to_the_next_candidate(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let first = app.available_interpreter().await;
    clock.advance(TimeDelta::seconds(1));
    let second = app.available_interpreter().await;
    let client = app.signup("client").await;
    let request: Value = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await
        .json()
        .await
        .expect("JSON");
    let offer = app.wait_for_offer(&first).await;
    assert!(app.pending_offers(&second).await.is_empty());

    // 19 s: still pending.
    advance(&app, &clock, 19).await;
    assert_eq!(app.pending_offers(&first).await.len(), 1);
    // 20 s: expired, and offered to the next candidate.
    advance(&app, &clock, 1).await;
    assert!(app.pending_offers(&first).await.is_empty());
    assert_eq!(status_of(&app, &first).await, "available");
    let next = app.wait_for_offer(&second).await;
    assert_eq!(next["request_id"], request["id"]);
    // The late answer to the expired offer is a conflict.
    expect_problem(
        app.post_empty_as(
            &first.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await,
        409,
    )
    .await;
    app.stop().await;
}

async fn three_missed_offers_in_a_row_set_the_interpreter_away(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let interpreter = app.available_interpreter().await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let client = app.signup("client").await;
        let created = app
            .post_as(&client.access, "/v1/requests", &json!({"language": "fr"}))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        clients.push(client);
        clock.advance(TimeDelta::milliseconds(10));
    }
    let mut offered = Vec::new();
    for _ in 0..3 {
        let offer = app.wait_for_offer(&interpreter).await;
        offered.push(offer["request_id"].as_str().expect("id").to_owned());
        advance(&app, &clock, 21).await;
    }
    offered.sort();
    offered.dedup();
    assert_eq!(offered.len(), 3, "never the same request twice");
    assert_eq!(status_of(&app, &interpreter).await, "away");
    advance(&app, &clock, 1).await;
    assert!(
        app.pending_offers(&interpreter).await.is_empty(),
        "away interpreters are offered nothing"
    );
    app.stop().await;
}

async fn a_request_unmatched_for_the_maximum_wait_expires(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let client = app.signup("client").await;
    let request: Value = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "de"}))
        .await
        .json()
        .await
        .expect("JSON");
    let path = format!("/v1/requests/{}", request["id"].as_str().expect("id"));
    advance(&app, &clock, 299).await;
    let waiting: Value = app
        .get_as(&client.access, &path)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(waiting["status"], "queued");
    advance(&app, &clock, 1).await;
    let expired: Value = app
        .get_as(&client.access, &path)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(expired["status"], "expired");
    assert!(expired["queue_position"].is_null());
    // The client may ask again.
    let again = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "de"}))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    app.stop().await;
}

async fn wrap_up_ends_after_its_pause(backend: Backend) {
    let (app, clock) = spawn(backend).await;
    let interpreter = app.available_interpreter().await;
    let client = app.signup("client").await;
    app.post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    let offer = app.wait_for_offer(&interpreter).await;
    let session: Value = app
        .post_empty_as(
            &interpreter.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(status_of(&app, &interpreter).await, "busy");
    clock.advance(TimeDelta::seconds(600));
    let ended = app
        .post_empty_as(
            &interpreter.access,
            &format!("/v1/sessions/{}/end", session["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    assert_eq!(status_of(&app, &interpreter).await, "wrap_up");
    advance(&app, &clock, 9).await;
    assert_eq!(status_of(&app, &interpreter).await, "wrap_up");
    advance(&app, &clock, 1).await;
    assert_eq!(status_of(&app, &interpreter).await, "available");
    app.stop().await;
}
