//! Requests, offers, sessions and ratings through real HTTP, on both stores.

use crate::common::{Backend, expect_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(
    a_request_is_offered_accepted_ended_and_rated,
    declined_offers_go_to_the_next_candidate_and_never_back,
    requests_follow_the_contract_for_bad_input,
    idempotency_key_replays_the_original_answer,
    cancelling_rescinds_the_pending_offer,
    sessions_are_visible_to_participants_only,
    availability_counts_interpreters_and_waiting_requests,
);

async fn a_request_is_offered_accepted_ended_and_rated(backend: Backend) {
    let app = spawn_app(backend).await;
    let interpreter = app.available_interpreter().await;
    let client = app.signup("client").await;

    let created = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let request: Value = created.json().await.expect("JSON");
    assert_eq!(request["client_id"], client.id.as_str());
    assert_eq!(request["specialization"], "general");
    assert_eq!(request["modality"], "video");
    assert!(request["session_id"].is_null());
    let request_id = request["id"].as_str().expect("id").to_owned();

    let offer = app.wait_for_offer(&interpreter).await;
    assert_eq!(offer["request_id"], request_id.as_str());
    assert_eq!(offer["interpreter_id"], interpreter.id.as_str());
    assert_eq!(offer["status"], "pending");
    assert_eq!(offer["language"], "es");
    let status: Value = app
        .get_as(&interpreter.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["status"]["status"], "reserved");
    let offered: Value = app
        .get_as(&client.access, &format!("/v1/requests/{request_id}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(offered["status"], "offered");
    assert!(offered["queue_position"].is_null());

    let session = app.accept(&interpreter, &offer).await;
    assert_eq!(session["request_id"], request_id.as_str());
    assert_eq!(session["client_id"], client.id.as_str());
    assert!(session["ended_at"].is_null());
    assert!(session["match_time_ms"].as_i64().is_some_and(|ms| ms >= 0));
    let session_id = session["id"].as_str().expect("id").to_owned();

    let matched: Value = app
        .get_as(&client.access, &format!("/v1/requests/{request_id}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(matched["status"], "matched");
    assert_eq!(matched["session_id"], session_id.as_str());
    // Accepting again is a conflict; the interpreter is busy and cannot go away.
    expect_problem(
        app.post_empty_as(
            &interpreter.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await,
        409,
    )
    .await;
    expect_problem(
        app.put_as(
            &interpreter.access,
            "/v1/interpreters/me/status",
            &json!({"status": "offline"}),
        )
        .await,
        409,
    )
    .await;
    // Rating before the end is a conflict; a rating by the interpreter is forbidden.
    let rating = json!({"stars": 5, "comment": "clear and kind"});
    expect_problem(
        app.post_as(
            &client.access,
            &format!("/v1/sessions/{session_id}/rating"),
            &rating,
        )
        .await,
        409,
    )
    .await;
    expect_problem(
        app.post_as(
            &interpreter.access,
            &format!("/v1/sessions/{session_id}/rating"),
            &rating,
        )
        .await,
        403,
    )
    .await;

    let ended = app
        .post_empty_as(&client.access, &format!("/v1/sessions/{session_id}/end"))
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    let ended: Value = ended.json().await.expect("JSON");
    assert!(ended["ended_at"].is_string());
    expect_problem(
        app.post_empty_as(
            &interpreter.access,
            &format!("/v1/sessions/{session_id}/end"),
        )
        .await,
        409,
    )
    .await;
    let wrap: Value = app
        .get_as(&interpreter.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(wrap["status"]["status"], "wrap_up");

    for bad in [
        json!({"stars": 0}),
        json!({"stars": 6}),
        json!({"stars": "five"}),
        json!({"stars": 4.5}),
        json!({}),
    ] {
        expect_problem(
            app.post_as(
                &client.access,
                &format!("/v1/sessions/{session_id}/rating"),
                &bad,
            )
            .await,
            422,
        )
        .await;
    }
    let rated = app
        .post_as(
            &client.access,
            &format!("/v1/sessions/{session_id}/rating"),
            &rating,
        )
        .await;
    assert_eq!(rated.status(), StatusCode::CREATED);
    expect_problem(
        app.post_as(
            &client.access,
            &format!("/v1/sessions/{session_id}/rating"),
            &rating,
        )
        .await,
        409,
    )
    .await;

    for account in [&client, &interpreter] {
        let list: Value = app
            .get_as(&account.access, "/v1/sessions")
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(list["items"][0]["id"], session_id.as_str());
        assert!(list["next_cursor"].is_null());
    }
    app.stop().await;
}

async fn declined_offers_go_to_the_next_candidate_and_never_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.available_interpreter().await;
    let second = app.available_interpreter().await;
    let client = app.signup("client").await;
    let request: Value = app
        .post_as(
            &client.access,
            "/v1/requests",
            &json!({"language": "fr", "specialization": "medical", "modality": "audio"}),
        )
        .await
        .json()
        .await
        .expect("JSON");

    // Longest idle first: the first interpreter became available first.
    let offer = app.wait_for_offer(&first).await;
    assert!(app.pending_offers(&second).await.is_empty());
    let declined = app
        .post_empty_as(
            &first.access,
            &format!("/v1/offers/{}/decline", offer["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(declined.status(), StatusCode::NO_CONTENT);
    // Answering it again is a conflict.
    expect_problem(
        app.post_empty_as(
            &first.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await,
        409,
    )
    .await;

    let next = app.wait_for_offer(&second).await;
    assert_eq!(next["request_id"], request["id"]);
    // Someone else's offer is not found.
    expect_problem(
        app.post_empty_as(
            &first.access,
            &format!("/v1/offers/{}/accept", next["id"].as_str().expect("id")),
        )
        .await,
        404,
    )
    .await;
    let declined = app
        .post_empty_as(
            &second.access,
            &format!("/v1/offers/{}/decline", next["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(declined.status(), StatusCode::NO_CONTENT);
    // Both declined: nobody is offered it again, it waits. The witness that rounds of `fr` ran
    // after the declines (an instance runs them one after another): a later request is offered
    // to one of the two, and that is the only offer either holds.
    let other = app.signup("client").await;
    let later: Value = app
        .post_as(
            &other.access,
            "/v1/requests",
            &json!({"language": "fr", "specialization": "medical", "modality": "audio"}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.pending_offers(&first).await.is_empty()
        && app.pending_offers(&second).await.is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the later request was offered to nobody"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Read again, both after the witness: an offer of the declined request, which comes first
    // in the queue, would have been made before it.
    let mut held = app.pending_offers(&first).await;
    held.extend(app.pending_offers(&second).await);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["request_id"], later["id"],
        "the declined request was offered again"
    );
    let waiting: Value = app
        .get_as(
            &client.access,
            &format!("/v1/requests/{}", request["id"].as_str().expect("id")),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(waiting["status"], "queued");
    assert_eq!(waiting["queue_position"], 1);
    app.stop().await;
}

async fn requests_follow_the_contract_for_bad_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signup("client").await;
    let interpreter = app.signup("interpreter").await;

    expect_problem(
        app.post("/v1/requests", &json!({"language": "es"})).await,
        401,
    )
    .await;
    expect_problem(
        app.post_as(
            &interpreter.access,
            "/v1/requests",
            &json!({"language": "es"}),
        )
        .await,
        403,
    )
    .await;
    // The role is checked before the body.
    expect_problem(
        app.post_as(
            &interpreter.access,
            "/v1/requests",
            &json!({"language": "xx"}),
        )
        .await,
        403,
    )
    .await;
    for bad in [
        json!({"language": "xx"}),
        json!({"language": "english"}),
        json!({"language": ""}),
        json!({"language": "es", "specialization": "astrology"}),
        json!({"language": "es", "modality": "smoke-signals"}),
        json!({"language": "es", "priority": 10}),
        json!({}),
        json!({"language": 7}),
    ] {
        expect_problem(app.post_as(&client.access, "/v1/requests", &bad).await, 422).await;
    }
    let first = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("JSON");
    assert_eq!(first["queue_position"], 1);
    let second = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "fr"}))
        .await;
    let problem = expect_problem(second, 409).await;
    assert_eq!(problem["type"], "urn:dragoman:problem:open-request");
    // An invalid body is 422 even when the state would also conflict.
    expect_problem(
        app.post_as(&client.access, "/v1/requests", &json!({"language": "xx"}))
            .await,
        422,
    )
    .await;

    let id = first["id"].as_str().expect("id");
    let other = app.signup("client").await;
    expect_problem(
        app.get_as(&other.access, &format!("/v1/requests/{id}"))
            .await,
        404,
    )
    .await;
    expect_problem(
        app.post_empty_as(&other.access, &format!("/v1/requests/{id}/cancel"))
            .await,
        404,
    )
    .await;
    expect_problem(
        app.get_as(&client.access, "/v1/requests/not-a-uuid").await,
        404,
    )
    .await;
    expect_problem(
        app.post_empty_as(&interpreter.access, &format!("/v1/offers/{id}/accept"))
            .await,
        404,
    )
    .await;
    expect_problem(
        app.post_empty_as(&client.access, &format!("/v1/offers/{id}/accept"))
            .await,
        403,
    )
    .await;
    expect_problem(app.get_as(&client.access, "/v1/offers").await, 403).await;
    expect_problem(
        app.get_as(&interpreter.access, "/v1/offers?status=accepted")
            .await,
        422,
    )
    .await;
    expect_problem(
        app.get_as(&client.access, "/v1/sessions?limit=0").await,
        422,
    )
    .await;
    expect_problem(
        app.get_as(&client.access, "/v1/sessions?limit=201").await,
        422,
    )
    .await;
    expect_problem(
        app.get_as(&client.access, "/v1/sessions?cursor=zzz").await,
        422,
    )
    .await;
    expect_problem(app.get_as(&client.access, "/v1/admin/overview").await, 403).await;
    expect_problem(
        app.get_as(
            &client.access,
            &format!("/v1/admin/requests/{id}/explanation"),
        )
        .await,
        403,
    )
    .await;

    // Nothing of the above changed the request.
    let still: Value = app
        .get_as(&client.access, &format!("/v1/requests/{id}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(still["status"], "queued");
    app.stop().await;
}

async fn idempotency_key_replays_the_original_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signup("client").await;
    let send = |key: &'static str| {
        app.http
            .post(app.url("/v1/requests"))
            .bearer_auth(&client.access)
            .header("idempotency-key", key)
            .json(&json!({"language": "ase"}))
            .send()
    };
    let first = send("retry-1").await.expect("sent");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("JSON");
    let again = send("retry-1").await.expect("sent");
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(again, first, "the original answer, and nothing new created");
    // A different key is a new request, refused because one is open.
    expect_problem(send("retry-2").await.expect("sent"), 409).await;
    let bad_key = app
        .http
        .post(app.url("/v1/requests"))
        .bearer_auth(&client.access)
        .header("idempotency-key", "x".repeat(300))
        .json(&json!({"language": "ase"}))
        .send()
        .await
        .expect("sent");
    expect_problem(bad_key, 422).await;
    app.stop().await;
}

async fn cancelling_rescinds_the_pending_offer(backend: Backend) {
    let app = spawn_app(backend).await;
    let interpreter = app.available_interpreter().await;
    let client = app.signup("client").await;
    let request: Value = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await
        .json()
        .await
        .expect("JSON");
    let id = request["id"].as_str().expect("id");
    let offer = app.wait_for_offer(&interpreter).await;
    let cancelled = app
        .post_empty_as(&client.access, &format!("/v1/requests/{id}/cancel"))
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.expect("JSON");
    assert_eq!(cancelled["status"], "cancelled");
    assert!(app.pending_offers(&interpreter).await.is_empty());
    let back: Value = app
        .get_as(&interpreter.access, "/v1/interpreters/me")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(back["status"]["status"], "available");
    expect_problem(
        app.post_empty_as(
            &interpreter.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await,
        409,
    )
    .await;
    expect_problem(
        app.post_empty_as(&client.access, &format!("/v1/requests/{id}/cancel"))
            .await,
        409,
    )
    .await;

    // A matched request can no longer be cancelled.
    let request: Value = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await
        .json()
        .await
        .expect("JSON");
    let offer = app.wait_for_offer(&interpreter).await;
    let accepted = app
        .post_empty_as(
            &interpreter.access,
            &format!("/v1/offers/{}/accept", offer["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(accepted.status(), StatusCode::OK);
    let problem = expect_problem(
        app.post_empty_as(
            &client.access,
            &format!(
                "/v1/requests/{}/cancel",
                request["id"].as_str().expect("id")
            ),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(problem["type"], "urn:dragoman:problem:request-closed");
    app.stop().await;
}

async fn sessions_are_visible_to_participants_only(backend: Backend) {
    let app = spawn_app(backend).await;
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
    let id = session["id"].as_str().expect("id");
    for participant in [&client, &interpreter] {
        let read = app
            .get_as(&participant.access, &format!("/v1/sessions/{id}"))
            .await;
        assert_eq!(read.status(), StatusCode::OK);
    }
    let stranger = app.signup("client").await;
    expect_problem(
        app.get_as(&stranger.access, &format!("/v1/sessions/{id}"))
            .await,
        404,
    )
    .await;
    expect_problem(
        app.post_empty_as(&stranger.access, &format!("/v1/sessions/{id}/end"))
            .await,
        404,
    )
    .await;
    expect_problem(
        app.post_as(
            &stranger.access,
            &format!("/v1/sessions/{id}/rating"),
            &json!({"stars": 1}),
        )
        .await,
        404,
    )
    .await;
    let list: Value = app
        .get_as(&stranger.access, "/v1/sessions")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["items"], json!([]));
    // The stranger's attempts changed nothing.
    let read: Value = app
        .get_as(&client.access, &format!("/v1/sessions/{id}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(read["ended_at"].is_null());
    app.stop().await;
}

async fn availability_counts_interpreters_and_waiting_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.signup("client").await;
    expect_problem(app.get("/v1/availability").await, 401).await;
    app.interpreter_speaking(&["zh"]).await;
    app.interpreter_speaking(&["zh", "ar"]).await;
    let before: Value = app
        .get_as(&client.access, "/v1/availability")
        .await
        .json()
        .await
        .expect("JSON");
    let zh = before["languages"]
        .as_array()
        .expect("languages")
        .iter()
        .find(|l| l["code"] == "zh")
        .cloned()
        .expect("zh");
    assert_eq!(zh["available"], 2);
    assert_eq!(zh["waiting"], 0);
    assert_eq!(zh["estimated_wait_s"], 0);
    // A request for a language nobody speaks waits, with no estimate.
    let r: Value = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "sw"}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(r["queue_position"], 1);
    assert!(r["estimated_wait_s"].is_null());
    let after: Value = app
        .get_as(&client.access, "/v1/availability")
        .await
        .json()
        .await
        .expect("JSON");
    let sw = after["languages"]
        .as_array()
        .expect("languages")
        .iter()
        .find(|l| l["code"] == "sw")
        .cloned()
        .expect("sw");
    assert_eq!(sw["available"], 0);
    assert_eq!(sw["waiting"], 1);
    app.stop().await;
}
