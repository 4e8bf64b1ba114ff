//! The WebSocket gateway as a client sees it: events with per-user ids, resume, subscribe,
//! every row of bad input, the idle close, the caps (per instance, per user), tickets, the close
//! at the token's expiry, and the drain at shutdown.

use std::time::Duration;

use crate::common::ws::{
    WAIT, closed_while_silent, closed_with, connect, next, next_of, open, refused, send,
    still_answers, ws_url,
};
use crate::common::{Account, Backend, expect_problem, settings, spawn_app, spawn_with};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

on_every_backend!(events_reach_both_parties_with_increasing_ids);

async fn events_reach_both_parties_with_increasing_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    let interpreter = app.interpreter_speaking(&["es"]).await;
    let client = app.signup("client").await;
    let mut i_ws = connect(&app, &interpreter).await;
    let mut c_ws = connect(&app, &client).await;
    app.post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;

    let offer = next_of(&mut i_ws, "offer.created").await;
    assert!(offer["id"].as_u64().is_some_and(|id| id >= 1));
    assert_eq!(offer["data"]["status"], "pending");
    assert!(offer["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let reserved = next_of(&mut i_ws, "status.changed").await;
    assert_eq!(reserved["data"]["status"], "reserved");
    assert!(reserved["id"].as_u64() > offer["id"].as_u64());

    let accepted = app
        .post_empty_as(
            &interpreter.access,
            &format!(
                "/v1/offers/{}/accept",
                offer["data"]["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let matched = next_of(&mut c_ws, "request.matched").await;
    assert_eq!(
        matched["data"]["interpreter"]["id"],
        interpreter.id.as_str()
    );
    assert_eq!(matched["data"]["interpreter"]["display_name"], "Test User");
    assert_eq!(
        matched["data"]["session"]["interpreter_id"],
        interpreter.id.as_str()
    );
    let session_id = matched["data"]["session"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.post_empty_as(&client.access, &format!("/v1/sessions/{session_id}/end"))
        .await;
    let ended_c = next_of(&mut c_ws, "session.ended").await;
    let ended_i = next_of(&mut i_ws, "session.ended").await;
    assert_eq!(ended_c["data"]["id"], session_id.as_str());
    assert_eq!(ended_i["data"]["id"], session_id.as_str());
    assert!(ended_c["id"].as_u64() > matched["id"].as_u64());
    app.stop().await;
}

#[tokio::test]
async fn resume_replays_what_was_missed_without_duplicates() {
    let app = spawn_app(Backend::Sqlite).await;
    let interpreter = app.interpreter_speaking(&["fr"]).await;
    let mut ws = connect(&app, &interpreter).await;
    let away = app
        .put_as(
            &interpreter.access,
            "/v1/interpreters/me/status",
            &json!({"status": "away"}),
        )
        .await;
    assert_eq!(away.status(), 200);
    let first = next_of(&mut ws, "status.changed").await;
    let seen = first["id"].as_u64().expect("id");
    drop(ws);

    // While disconnected: two more status changes.
    for status in ["available", "offline"] {
        app.put_as(
            &interpreter.access,
            "/v1/interpreters/me/status",
            &json!({"status": status}),
        )
        .await;
    }
    let mut ws = connect(&app, &interpreter).await;
    send(&mut ws, json!({"type": "resume", "after": seen})).await;
    let a = next(&mut ws).await;
    let b = next(&mut ws).await;
    assert_eq!(
        (a["data"]["status"].as_str(), b["data"]["status"].as_str()),
        (Some("available"), Some("offline"))
    );
    assert_eq!(a["id"].as_u64(), Some(seen + 1));
    assert_eq!(b["id"].as_u64(), Some(seen + 2));
    // Resuming again from the start sends only what this connection has not had: the events
    // up to `seen`, which the first connection got.
    send(&mut ws, json!({"type": "resume", "after": 0})).await;
    for id in 1..=seen {
        assert_eq!(
            next(&mut ws).await["id"].as_u64(),
            Some(id),
            "not yet sent here"
        );
    }
    // Live events follow.
    app.put_as(
        &interpreter.access,
        "/v1/interpreters/me/status",
        &json!({"status": "away"}),
    )
    .await;
    let live = next(&mut ws).await;
    assert_eq!(live["id"].as_u64(), Some(seen + 3));
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_errors_and_harms_nobody_else() {
    let app = spawn_app(Backend::Sqlite).await;
    let interpreter = app.interpreter_speaking(&["de"]).await;
    let url = format!("{}/v1/ws", app.base.replace("http://", "ws://"));

    // No token, a bad one, an expired one: 401 and no socket.
    for token in [None, Some("garbage".to_owned())] {
        let mut request = url.clone().into_client_request().expect("request");
        if let Some(t) = token {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("header"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401)
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    // The query parameter works too.
    drop(open(&format!("{url}?access_token={}", interpreter.access)).await);

    let mut bystander = connect(&app, &interpreter).await;
    let mut ws = connect(&app, &interpreter).await;
    ws.send(Message::text("not json")).await.expect("sent");
    assert_eq!(next(&mut ws).await["data"]["code"], "malformed");
    ws.send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("sent");
    assert_eq!(next(&mut ws).await["data"]["code"], "malformed");
    send(&mut ws, json!({"type": "launch"})).await;
    let unknown = next(&mut ws).await;
    assert_eq!(unknown["type"], "error");
    assert!(unknown["id"].is_null());
    assert_eq!(unknown["data"]["code"], "unknown_type");
    send(&mut ws, json!({"type": "resume", "after": 1_000_000})).await;
    assert_eq!(next(&mut ws).await["data"]["code"], "resume_from_future");
    // Still open after all that: a status change arrives.
    app.put_as(
        &interpreter.access,
        "/v1/interpreters/me/status",
        &json!({"status": "away"}),
    )
    .await;
    assert_eq!(
        next_of(&mut ws, "status.changed").await["data"]["status"],
        "away"
    );

    // A flood is throttled, then closed; the other connection does not notice.
    for _ in 0..100 {
        if ws
            .send(Message::text(
                json!({"type": "subscribe", "topic": "availability"}).to_string(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut saw_rate_limited = false;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer")
        {
            Some(Ok(Message::Text(t))) => saw_rate_limited |= t.as_str().contains("rate_limited"),
            Some(Ok(Message::Close(Some(frame)))) => break frame.code,
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(saw_rate_limited);
    assert_eq!(code, CloseCode::Policy);

    // A huge frame closes that connection with 1009.
    let mut big = connect(&app, &interpreter).await;
    big.send(Message::text("x".repeat(100_000)))
        .await
        .expect("sent");
    assert_eq!(closed_with(&mut big).await.0, CloseCode::Size);

    app.put_as(
        &interpreter.access,
        "/v1/interpreters/me/status",
        &json!({"status": "offline"}),
    )
    .await;
    let last = next_of(&mut bystander, "status.changed").await;
    assert_eq!(
        next_of(&mut bystander, "status.changed").await["data"]["status"],
        "offline",
        "{last}"
    );
    app.stop().await;
}

#[tokio::test]
async fn subscribers_receive_availability() {
    let app = spawn_app(Backend::Sqlite).await;
    let client = app.signup("client").await;
    let mut ws = connect(&app, &client).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "topic": "availability"}),
    )
    .await;
    app.interpreter_speaking(&["nl"]).await;
    let update = next_of(&mut ws, "availability.changed").await;
    assert!(update["id"].is_null(), "topic updates are not replayed");
    assert_eq!(update["data"]["code"], "nl");
    assert_eq!(update["data"]["available"], 1);
    app.stop().await;
}

#[tokio::test]
async fn silent_connections_are_closed_and_the_cap_answers_503() {
    let (mut settings, dir, db) = settings(Backend::Sqlite).await;
    settings.ws.ping_interval = Duration::from_millis(200);
    settings.ws.idle_timeout = Duration::from_millis(600);
    settings.ws.max_connections = 2;
    let app = spawn_with(settings, dir, db).await;
    let client = app.signup("client").await;
    let mut silent = connect(&app, &client).await;
    let _second = connect(&app, &client).await;
    let url = ws_url(&app, &format!("access_token={}", client.access));
    assert_eq!(refused(&url).await, 503, "past the cap");
    // Not answering pings: the server closes for silence. The socket is read beneath its
    // WebSocket layer (which would answer the pings) until the server ends the connection.
    let (code, reason) = closed_while_silent(&mut silent).await;
    assert_eq!((code, reason.as_str()), (CloseCode::Away, "idle"));
    app.stop().await;
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect() {
    let app = spawn_app(Backend::Sqlite).await;
    let client = app.signup("client").await;
    let mut ws = connect(&app, &client).await;
    let stopping = tokio::spawn(app.stop());
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!((code, reason.as_str()), (CloseCode::Restart, "reconnect"));
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn interpreters_without_a_connection_for_the_grace_period_go_offline() {
    let (mut settings, dir, db) = settings(Backend::Sqlite).await;
    settings.ws.presence_grace = Duration::from_secs(1);
    let app = spawn_with(settings, dir, db).await;
    let staying = app.interpreter_speaking(&["sv"]).await;
    let leaving = app.interpreter_speaking(&["sv"]).await;
    let never = app.interpreter_speaking(&["sv"]).await;
    let _kept = connect(&app, &staying).await;
    let gone = connect(&app, &leaving).await;
    drop(gone);
    // Marks are renewed for the connected one only. The witness that the sweeps ran past the
    // grace period of every mark the connected one had not renewed: the one that connected
    // after it, and left, goes offline (as does the one that never connected).
    app.wait_for_status(&leaving, "offline").await;
    app.wait_for_status(&never, "offline").await;
    let status = |account: Account| {
        let app = &app;
        async move {
            let me: Value = app
                .get_as(&account.access, "/v1/interpreters/me")
                .await
                .json()
                .await
                .expect("JSON");
            me["status"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(status(staying.clone()).await, "available");
    assert_eq!(status(leaving.clone()).await, "offline");
    assert_eq!(
        status(never.clone()).await,
        "offline",
        "setting available without ever connecting gives only the grace period"
    );
    // And nothing is offered to them.
    let client = app.signup("client").await;
    app.post_as(&client.access, "/v1/requests", &json!({"language": "sv"}))
        .await;
    let offer = app.wait_for_offer(&staying).await;
    assert_eq!(offer["interpreter_id"], staying.id.as_str());
    assert!(app.pending_offers(&leaving).await.is_empty());
    assert!(app.pending_offers(&never).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_expired_or_foreign_token_gets_401_and_no_socket() {
    let (mut settings, dir, db) = settings(Backend::Sqlite).await;
    let secret = b"a websocket test's signing secret, 32+ bytes".to_vec();
    settings.jwt_secret = dragoman::config::JwtSecret::Given(secret.clone());
    let app = spawn_with(settings, dir, db).await;
    let client = app.signup("client").await;
    let user = dragoman_domain::UserId(client.id.parse().expect("uuid"));
    let issued_an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let ttl = (Duration::from_secs(900), Duration::from_secs(60));
    let expired = dragoman_http::auth::Tokens::new(&secret, ttl.0, ttl.1)
        .issue_access(user, dragoman_domain::Role::Client, issued_an_hour_ago)
        .expect("signed");
    let foreign = dragoman_http::auth::Tokens::new(&[7u8; 32], ttl.0, ttl.1)
        .issue_access(user, dragoman_domain::Role::Client, chrono::Utc::now())
        .expect("signed");
    for token in [expired, foreign] {
        assert_eq!(
            refused(&ws_url(&app, &format!("access_token={token}"))).await,
            401
        );
    }
    // The instance still serves the right token.
    drop(open(&ws_url(&app, &format!("access_token={}", client.access))).await);
    app.stop().await;
}

#[tokio::test]
async fn the_sixth_socket_of_a_user_closes_the_first() {
    let app = spawn_app(Backend::Sqlite).await;
    let client = app.signup("client").await;
    let other = app.signup("client").await;
    let mut others = connect(&app, &other).await;
    let mut sockets = Vec::new();
    for _ in 0..5 {
        let mut socket = connect(&app, &client).await;
        // Served (and so recorded) before the next one opens: the order is known.
        still_answers(&mut socket).await;
        sockets.push(socket);
    }
    let mut sixth = connect(&app, &client).await;
    let (code, reason) = closed_with(&mut sockets[0]).await;
    assert_eq!(code, CloseCode::from(4008));
    assert!(reason.contains("too many connections"), "{reason}");
    // The four others, the new one and another user's are untouched.
    for socket in sockets.iter_mut().skip(1) {
        still_answers(socket).await;
    }
    still_answers(&mut sixth).await;
    still_answers(&mut others).await;
    // Each new one closes the oldest left.
    let _seventh = connect(&app, &client).await;
    assert_eq!(closed_with(&mut sockets[1]).await.0, CloseCode::from(4008));
    still_answers(&mut sockets[2]).await;
    app.stop().await;
}

#[tokio::test]
async fn a_ticket_opens_one_socket_once() {
    let app = spawn_app(Backend::Sqlite).await;
    let interpreter = app.interpreter_speaking(&["it"]).await;
    expect_problem(app.post("/v1/ws/ticket", &json!({})).await, 401).await;
    let taken = app
        .post_empty_as(&interpreter.access, "/v1/ws/ticket")
        .await;
    assert_eq!(taken.status(), 201);
    let body: Value = taken.json().await.expect("JSON");
    assert_eq!(body["expires_in"], 30);
    let ticket = body["ticket"].as_str().expect("a ticket").to_owned();
    assert!(ticket.len() >= 43, "256 random bits: {ticket}");

    let mut socket = open(&ws_url(&app, &format!("ticket={ticket}"))).await;
    // The socket is the interpreter's: their events arrive on it.
    app.put_as(
        &interpreter.access,
        "/v1/interpreters/me/status",
        &json!({"status": "away"}),
    )
    .await;
    assert_eq!(
        next_of(&mut socket, "status.changed").await["data"]["status"],
        "away"
    );
    // Used, unknown, empty: 401 at the upgrade.
    assert_eq!(
        refused(&ws_url(&app, &format!("ticket={ticket}"))).await,
        401
    );
    assert_eq!(refused(&ws_url(&app, "ticket=not-a-ticket")).await, 401);
    assert_eq!(refused(&ws_url(&app, "ticket=")).await, 401);
    // A ticket is not an access token, nor the reverse.
    let again: Value = app
        .post_empty_as(&interpreter.access, "/v1/ws/ticket")
        .await
        .json()
        .await
        .expect("JSON");
    let second = again["ticket"].as_str().expect("a ticket");
    expect_problem(app.get_as(second, "/v1/interpreters/me").await, 401).await;
    assert_eq!(
        refused(&ws_url(&app, &format!("ticket={}", interpreter.access))).await,
        401
    );
    app.stop().await;
}

/// An instance whose signing secret the test knows, and a token for `account` that expires
/// `secs` seconds from now.
fn short_token(secret: &[u8], account: &Account, secs: u64) -> String {
    let user = dragoman_domain::UserId(account.id.parse().expect("uuid"));
    dragoman_http::auth::Tokens::new(secret, Duration::from_secs(secs), Duration::from_secs(60))
        .issue_access(user, dragoman_domain::Role::Client, chrono::Utc::now())
        .expect("signed")
}

#[tokio::test]
async fn a_socket_closes_when_its_token_expires() {
    let (mut settings, dir, db) = settings(Backend::Sqlite).await;
    let secret = b"a websocket test's signing secret, 32+ bytes".to_vec();
    settings.jwt_secret = dragoman::config::JwtSecret::Given(secret.clone());
    let app = spawn_with(settings, dir, db).await;
    let client = app.signup("client").await;

    // Opened with a token that expires in 2 s, directly and through a ticket.
    let short = short_token(&secret, &client, 2);
    let mut direct = open(&ws_url(&app, &format!("access_token={short}"))).await;
    let ticket: Value = app
        .post_empty_as(&short, "/v1/ws/ticket")
        .await
        .json()
        .await
        .expect("JSON");
    let ticket = ticket["ticket"].as_str().expect("a ticket");
    let mut by_ticket = open(&ws_url(&app, &format!("ticket={ticket}"))).await;
    // A socket of a long-lived token stays.
    let mut lasting = connect(&app, &client).await;
    for socket in [&mut direct, &mut by_ticket] {
        let (code, reason) = closed_with(socket).await;
        assert_eq!(
            (code, reason.as_str()),
            (CloseCode::from(4001), "token expired")
        );
    }
    still_answers(&mut lasting).await;

    // A ticket taken with a token that has since expired opens nothing.
    let short = short_token(&secret, &client, 1);
    let ticket: Value = app
        .post_empty_as(&short, "/v1/ws/ticket")
        .await
        .json()
        .await
        .expect("JSON");
    let ticket = ticket["ticket"].as_str().expect("a ticket").to_owned();
    // Once the server refuses the token itself, it has expired.
    let deadline = std::time::Instant::now() + 2 * WAIT;
    while app.get_as(&short, "/v1/me").await.status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 s token still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        refused(&ws_url(&app, &format!("ticket={ticket}"))).await,
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn binary_frames_are_throttled_like_text_frames() {
    let app = spawn_app(Backend::Sqlite).await;
    let client = app.signup("client").await;
    let mut bystander = connect(&app, &client).await;
    let mut ws = connect(&app, &client).await;
    for _ in 0..200 {
        if ws.send(Message::binary(vec![0u8; 64])).await.is_err() {
            break;
        }
    }
    let mut saw_rate_limited = false;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer")
        {
            Some(Ok(Message::Text(t))) => saw_rate_limited |= t.as_str().contains("rate_limited"),
            Some(Ok(Message::Close(Some(frame)))) => break frame.code,
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(
        saw_rate_limited,
        "binary frames were answered without a limit"
    );
    assert_eq!(code, CloseCode::Policy);
    still_answers(&mut bystander).await;
    app.stop().await;
}
