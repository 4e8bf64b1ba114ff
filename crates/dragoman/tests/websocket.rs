//! The WebSocket gateway as a client sees it: events with per-user ids, resume, subscribe,
//! every row of bad input, the idle close, the cap, and the drain at shutdown.

mod common;

use std::time::Duration;

use common::{Account, Backend, TestApp, settings, spawn_app, spawn_with};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, account: &Account) -> Socket {
    let url = format!("{}/v1/ws", app.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", account.access)
            .parse()
            .expect("header"),
    );
    tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded")
        .0
}

/// The next JSON text frame within 10 s (pings are skipped).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Frames until one of `kind`.
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = next(socket).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// The close frame the server sends, within 10 s.
async fn closed_with(socket: &mut Socket) -> (CloseCode, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("closed within 10 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
}

async fn send(socket: &mut Socket, value: Value) {
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("sent");
}

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
    let (by_query, _) =
        tokio_tungstenite::connect_async(format!("{url}?access_token={}", interpreter.access))
            .await
            .expect("upgraded with ?access_token=");
    drop(by_query);

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
    let url = format!(
        "{}/v1/ws?access_token={}",
        app.base.replace("http://", "ws://"),
        client.access
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503 past the cap, got {other:?}"),
    }
    // Not reading means not answering pings: the server closes for silence.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (code, reason) = closed_with(&mut silent).await;
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
    // Well past the grace period: marks are renewed for the connected one only.
    tokio::time::sleep(Duration::from_millis(3000)).await;
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
    let url = format!("{}/v1/ws", app.base.replace("http://", "ws://"));
    for token in [expired, foreign] {
        match tokio_tungstenite::connect_async(format!("{url}?access_token={token}")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401)
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    // The instance still serves the right token.
    let (ok, _) = tokio_tungstenite::connect_async(format!("{url}?access_token={}", client.access))
        .await
        .expect("upgraded");
    drop(ok);
    app.stop().await;
}
