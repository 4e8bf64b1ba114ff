//! The WebSocket gateway under random and mutated frames: text garbage, mutated client
//! messages, binary, invalid UTF-8, frames past the size limit, deeply nested JSON, control
//! frames (small and oversized pings, unsolicited pongs), fragments (well formed, interleaved
//! with a ping, and orphaned), and reserved opcodes, over several connections at once, plus
//! upgrades with forged credentials.
//!
//! Checks: nothing panicked and `/health` answers 200; no answer was a 5xx; every malformed
//! message got its `error` frame and every broken frame its documented close code; and the
//! connection's promises hold afterwards (a fresh connection's `resume` replays every event
//! without a gap, and a live event follows). The seed is printed; set DRAGOMAN_WS_FUZZ_SEED to
//! replay a run. It counts every panic of its process, so it runs in a process of its own
//! (`alone_in_process`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::ws::{Socket, connect};
use crate::common::{Account, Backend, TestApp, settings, spawn_with};
use dragoman_conformance::process::alone_in_process;
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

/// Connections fuzzed at once, each as its own user, and frames sent on each.
const CONNECTIONS: u64 = 4;
const FRAMES_PER_CONNECTION: usize = 1000;
/// The gateway's message limit (WsSettings::max_message_bytes).
const MAX_MESSAGE: usize = 16 * 1024;

/// Panics anywhere in the process (a connection's task included, which tokio would otherwise
/// only log).
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// What the server must answer to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Exactly one `error` frame.
    Error,
    /// Possibly a valid message (no answer, events, or an `error`).
    MaybeValid,
    /// A close frame with this code.
    Close(u16),
    /// Nothing (a pong at most).
    Nothing,
}

/// Counts of one connection's run.
#[derive(Debug, Default)]
struct Tally {
    frames: usize,
    errors: usize,
    closes: usize,
    connections: usize,
}

/// A client message's fields as the server reads them (in a JSON object, or in that order in
/// an array, as serde reads a struct; other fields are skipped).
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Probe {
    #[serde(rename = "type")]
    kind: Option<Value>,
    after: Option<Value>,
    topic: Option<Value>,
}

/// Whether the server may take `text` for a valid message: it reads as a message whose type is
/// one the server knows. Anything else must get an `error`.
fn maybe_valid(text: &str) -> bool {
    serde_json::from_str::<Probe>(text).is_ok_and(|probe| {
        matches!(
            probe.kind.as_ref().and_then(Value::as_str),
            Some("resume" | "subscribe")
        )
    })
}

fn classify(text: &str) -> Expect {
    if maybe_valid(text) {
        Expect::MaybeValid
    } else {
        Expect::Error
    }
}

fn random_text(rng: &mut StdRng, max: usize) -> String {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "type",
        "resume",
        "subscribe",
        "after",
        "topic",
        "availability",
        "null",
        "true",
        "-1",
        "1e999",
        "18446744073709551616",
        "\\u0000",
        "é",
        "🙂",
        "\u{202e}",
        " ",
        "\n",
    ];
    let len = rng.random_range(0..max.max(1));
    let mut text = String::new();
    while text.len() < len {
        if rng.random_bool(0.5) {
            text.push_str(PIECES[rng.random_range(0..PIECES.len())]);
        } else {
            text.push(char::from(rng.random_range(0x20u8..0x7f)));
        }
    }
    text
}

fn random_value(rng: &mut StdRng) -> Value {
    match rng.random_range(0..10) {
        0 => Value::Null,
        1 => json!(-1),
        2 => json!(rng.random::<u64>()),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => json!("availability"),
        5 => json!(random_text(rng, 20)),
        6 => json!([]),
        7 => json!({"type": "resume"}),
        8 => json!(true),
        _ => json!(rng.random_range(0..5u64)),
    }
}

/// A valid client message, mutated at the JSON level or the character level.
fn mutated_message(rng: &mut StdRng) -> String {
    let mut value = match rng.random_range(0..3) {
        0 => json!({"type": "resume", "after": rng.random_range(0..10u64)}),
        1 => json!({"type": "subscribe", "topic": "availability"}),
        _ => json!({"type": "resume", "after": 0, "extra": "field"}),
    };
    if rng.random_bool(0.5) {
        let keys = ["type", "after", "topic", "extra", ""];
        let key = keys[rng.random_range(0..keys.len())];
        if let Some(map) = value.as_object_mut() {
            if rng.random_bool(0.3) {
                map.remove(key);
            } else {
                map.insert(key.to_owned(), random_value(rng));
            }
        }
        return value.to_string();
    }
    let mut chars: Vec<char> = value.to_string().chars().collect();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..chars.len().max(1));
        match rng.random_range(0..3) {
            0 if !chars.is_empty() => {
                chars.remove(at.min(chars.len() - 1));
            }
            1 => chars.insert(at, char::from(rng.random_range(0x20u8..0x7f))),
            _ if !chars.is_empty() => {
                let end = (at + rng.random_range(1..8)).min(chars.len());
                let copy: Vec<char> = chars[at.min(end)..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => chars.push('}'),
        }
    }
    chars.into_iter().collect()
}

fn invalid_utf8(rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = random_text(rng, 40).into_bytes();
    let bad: &[u8] = match rng.random_range(0..4) {
        0 => &[0xff],
        1 => &[0xc3],             // a truncated two-byte sequence
        2 => &[0xed, 0xa0, 0x80], // a surrogate
        _ => &[0xf8, 0x88, 0x80, 0x80, 0x80],
    };
    let at = rng.random_range(0..=bytes.len());
    bytes.splice(at..at, bad.iter().copied());
    bytes
}

/// The frames of a step, shortly: kind, length and the start of a text.
fn describe(frames: &[Message]) -> String {
    frames
        .iter()
        .map(|m| match m {
            Message::Text(t) => format!(
                "text {}B {:?}",
                t.len(),
                t.chars().take(80).collect::<String>()
            ),
            Message::Binary(b) => format!("binary {}B", b.len()),
            Message::Ping(p) => format!("ping {}B", p.len()),
            Message::Pong(p) => format!("pong {}B", p.len()),
            Message::Frame(f) => format!("raw {:?} {}B", f.header().opcode, f.payload().len()),
            Message::Close(_) => "close".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A raw frame, whatever its opcode (the client masks it).
fn frame(data: Vec<u8>, opcode: OpCode, fin: bool) -> Message {
    let header = FrameHeader {
        is_final: fin,
        opcode,
        ..FrameHeader::default()
    };
    Message::Frame(Frame::from_payload(header, data.into()))
}

/// One step: the frames to send and what the server must answer.
fn step(rng: &mut StdRng) -> (Vec<Message>, Expect) {
    let text = |t: String| {
        let expect = classify(&t);
        (vec![Message::text(t)], expect)
    };
    match rng.random_range(0..100) {
        0..=24 => text(random_text(rng, 200)),
        25..=54 => text(mutated_message(rng)),
        55..=62 => {
            let mut bytes = vec![0u8; rng.random_range(0..300)];
            rng.fill(&mut bytes[..]);
            (vec![Message::binary(bytes)], Expect::Error)
        }
        63..=67 => (
            vec![frame(invalid_utf8(rng), OpCode::Data(Data::Text), true)],
            Expect::Close(1007),
        ),
        68..=70 => {
            let size = rng.random_range(MAX_MESSAGE + 1..MAX_MESSAGE * 2);
            let message = if rng.random_bool(0.5) {
                Message::text("x".repeat(size))
            } else {
                Message::binary(vec![7u8; size])
            };
            (vec![message], Expect::Close(1009))
        }
        71..=72 => {
            // Deep nesting, under the size limit: refused by the parser, no stack overflow.
            let depth = rng.random_range(100..MAX_MESSAGE / 2);
            text(format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
        }
        73..=74 => text(random_text(rng, MAX_MESSAGE - 200)),
        75..=79 => {
            let mut payload = vec![0u8; rng.random_range(0..125)];
            rng.fill(&mut payload[..]);
            let message = if rng.random_bool(0.5) {
                Message::Ping(payload.into())
            } else {
                Message::Pong(payload.into())
            };
            (vec![message], Expect::Nothing)
        }
        80..=82 => (
            vec![frame(
                vec![1u8; rng.random_range(126..400)],
                OpCode::Control(Control::Ping),
                true,
            )],
            Expect::Close(1002),
        ),
        83..=84 => {
            let message = match rng.random_range(0..3) {
                0 => frame(
                    vec![1, 2, 3],
                    OpCode::Data(Data::Reserved(rng.random_range(3..8))),
                    true,
                ),
                1 => frame(
                    vec![1, 2, 3],
                    OpCode::Control(Control::Reserved(rng.random_range(11..16))),
                    true,
                ),
                _ => {
                    // A reserved bit no extension was agreed for.
                    let header = FrameHeader {
                        rsv1: true,
                        opcode: OpCode::Data(Data::Text),
                        ..FrameHeader::default()
                    };
                    Message::Frame(Frame::from_payload(header, b"{}".to_vec().into()))
                }
            };
            (vec![message], Expect::Close(1002))
        }
        85..=93 => {
            // A text message in fragments, perhaps with a ping between them.
            let whole = if rng.random_bool(0.5) {
                mutated_message(rng)
            } else {
                random_text(rng, 300)
            };
            let bytes = whole.clone().into_bytes();
            let parts = rng.random_range(2..5).min(bytes.len().max(2));
            let chunk = bytes.len().div_ceil(parts).max(1);
            let mut frames = Vec::new();
            let pieces: Vec<Vec<u8>> = bytes.chunks(chunk).map(<[u8]>::to_vec).collect();
            let pieces = if pieces.len() < 2 {
                vec![bytes.clone(), Vec::new()]
            } else {
                pieces
            };
            let last = pieces.len() - 1;
            for (i, piece) in pieces.into_iter().enumerate() {
                let opcode = if i == 0 {
                    OpCode::Data(Data::Text)
                } else {
                    OpCode::Data(Data::Continue)
                };
                frames.push(frame(piece, opcode, i == last));
                if i == 0 && rng.random_bool(0.3) {
                    frames.push(Message::Ping(vec![9u8].into()));
                }
            }
            (frames, classify(&whole))
        }
        94..=96 => (
            vec![frame(
                b"{}".to_vec(),
                OpCode::Data(Data::Continue),
                rng.random_bool(0.5),
            )],
            Expect::Close(1002),
        ),
        _ => (
            // A new message while another is still in fragments.
            vec![
                frame(b"{\"ty".to_vec(), OpCode::Data(Data::Text), false),
                frame(b"pe\"}".to_vec(), OpCode::Data(Data::Text), true),
            ],
            Expect::Close(1002),
        ),
    }
}

/// What came back: an `error` frame's code, or the close code.
enum Answer {
    Error(String),
    Closed(u16),
}

/// Reads until an `error` frame or a close frame (events, pongs and pings are skipped).
async fn answer(socket: &mut Socket, context: &str) -> Answer {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no answer within 10 s to {context}"));
        match message {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(text.as_str()).expect("server frames are JSON");
                if v["type"] == "error" {
                    assert!(v["id"].is_null(), "errors carry no id: {v}");
                    return Answer::Error(
                        v["data"]["code"].as_str().unwrap_or_default().to_owned(),
                    );
                }
            }
            Some(Ok(Message::Close(Some(frame)))) => return Answer::Closed(u16::from(frame.code)),
            Some(Ok(Message::Close(None))) => panic!("closed without a code after {context}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the connection broke after {context}: {e}"),
            None => panic!("the connection ended without a close frame after {context}"),
        }
    }
}

/// Fuzzes one user's connection, reconnecting after each documented close.
async fn fuzz(app: Arc<TestApp>, account: Account, seed: u64) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally {
        connections: 1,
        ..Tally::default()
    };
    let mut socket = connect(&app, &account).await;
    for n in 0..FRAMES_PER_CONNECTION {
        let (frames, expect) = step(&mut rng);
        let context = format!("step {n} (seed {seed}): {expect:?} {}", describe(&frames));
        tally.frames += frames.len();
        let mut sent = true;
        for message in frames {
            if socket.send(message).await.is_err() {
                // The server may close before a large frame is fully written.
                sent = false;
                break;
            }
        }
        let expect = match expect {
            // A possibly valid message is followed by one that is certainly not: its error
            // comes after whatever the first one caused.
            Expect::MaybeValid | Expect::Nothing if sent => {
                socket
                    .send(Message::text(r#"{"type":"fuzz"}"#))
                    .await
                    .expect("the sentinel is sent");
                tally.frames += 1;
                loop {
                    match answer(&mut socket, &context).await {
                        Answer::Error(code) if code == "unknown_type" => break,
                        Answer::Error(_) => tally.errors += 1,
                        Answer::Closed(code) => panic!("closed with {code} after {context}"),
                    }
                }
                tally.errors += 1;
                continue;
            }
            other => other,
        };
        match (expect, answer(&mut socket, &context).await) {
            (Expect::Error, Answer::Error(code)) => {
                assert!(
                    ["malformed", "invalid", "unknown_type"].contains(&code.as_str()),
                    "{code} after {context}"
                );
                tally.errors += 1;
            }
            (Expect::Close(expected), Answer::Closed(code)) => {
                assert_eq!(code, expected, "after {context}");
                tally.closes += 1;
                socket = connect(&app, &account).await;
                tally.connections += 1;
            }
            (expect, Answer::Error(code)) => panic!("error {code}, expected {expect:?}: {context}"),
            (expect, Answer::Closed(code)) => {
                panic!("closed {code}, expected {expect:?}: {context}")
            }
        }
    }
    tally
}

/// Upgrades with forged credentials: 401 (never a 5xx, never a socket).
async fn forged_upgrades(app: &TestApp, rng: &mut StdRng) -> usize {
    let base = format!("{}/v1/ws", app.base.replace("http://", "ws://"));
    for n in 0..50 {
        let junk: String = random_text(rng, 60)
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        let query = match n % 3 {
            0 => format!("ticket={junk}"),
            1 => format!("access_token={junk}"),
            _ => format!("ticket=&access_token={junk}"),
        };
        match tokio_tungstenite::connect_async(format!("{base}?{query}")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{query}")
            }
            other => panic!("a forged upgrade was not refused with 401 ({query}): {other:?}"),
        }
        let ticket = app.post_empty_as(&junk, "/v1/ws/ticket").await;
        assert_eq!(ticket.status(), 401, "a ticket for a forged token");
    }
    100
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_and_mutated_frames_break_nothing() {
    if !alone_in_process(module_path!(), "random_and_mutated_frames_break_nothing") {
        return;
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let seed: u64 = match std::env::var("DRAGOMAN_WS_FUZZ_SEED") {
        Ok(s) => s.parse().expect("DRAGOMAN_WS_FUZZ_SEED is a number"),
        Err(_) => rand::random(),
    };
    println!("ws fuzz: seed {seed} (replay with DRAGOMAN_WS_FUZZ_SEED={seed})");

    let (mut settings, dir, db) = settings(Backend::Sqlite).await;
    // Every frame is parsed, none only throttled (the throttle has its own tests).
    settings.ws.messages_per_second = 1e9;
    settings.ws.message_burst = 1e9;
    let app = Arc::new(spawn_with(settings, dir, db).await);

    // Events to replay afterwards: the first fuzzed user is an interpreter with a history.
    let interpreter = app.interpreter_speaking(&["es"]).await;
    for status in ["away", "available", "away", "available"] {
        let changed = app
            .put_as(
                &interpreter.access,
                "/v1/interpreters/me/status",
                &json!({"status": status}),
            )
            .await;
        assert_eq!(changed.status(), 200);
    }

    let mut accounts = vec![interpreter.clone()];
    for _ in 1..CONNECTIONS {
        accounts.push(app.signup("client").await);
    }
    let runs = accounts
        .into_iter()
        .zip(0..)
        .map(|(account, n)| tokio::spawn(fuzz(app.clone(), account, seed.wrapping_add(n))));
    let mut total = Tally::default();
    for run in futures::future::join_all(runs).await {
        let tally = run.expect("a fuzzing task completed");
        total.frames += tally.frames;
        total.errors += tally.errors;
        total.closes += tally.closes;
        total.connections += tally.connections;
    }
    let mut rng = StdRng::seed_from_u64(seed.wrapping_sub(1));
    let forged = forged_upgrades(&app, &mut rng).await;
    println!(
        "ws fuzz: {} frames sent over {} connections; {} error replies, {} documented closes; {forged} forged upgrades and tickets refused with 401",
        total.frames, total.connections, total.errors, total.closes
    );
    assert!(total.frames >= 4000, "{total:?}");

    // Alive, and every promise kept: a fresh connection replays the whole history in order,
    // then a live event arrives.
    assert_eq!(app.get("/health").await.status(), 200);
    let mut fresh = connect(&app, &interpreter).await;
    // The latest id, as a resume from the future reports it.
    fresh
        .send(Message::text(
            json!({"type": "resume", "after": u64::MAX}).to_string(),
        ))
        .await
        .expect("sent");
    let latest: u64 = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), fresh.next())
            .await
            .expect("an answer within 10 s")
            .expect("open")
            .expect("valid");
        if let Message::Text(text) = message {
            let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
            assert_eq!(v["data"]["code"], "resume_from_future", "{v}");
            let detail = v["data"]["detail"].as_str().expect("a detail");
            let (_, latest) = detail
                .rsplit_once("the latest is ")
                .expect("names the latest");
            break latest.parse().expect("a number");
        }
    };
    assert!(latest >= 4, "the history before the fuzz: {latest}");
    fresh
        .send(Message::text(
            json!({"type": "resume", "after": 0}).to_string(),
        ))
        .await
        .expect("sent");
    let mut ids = Vec::new();
    while ids.len() < latest as usize {
        let message = tokio::time::timeout(Duration::from_secs(10), fresh.next())
            .await
            .expect("replayed within 10 s")
            .expect("open")
            .expect("valid");
        if let Message::Text(text) = message {
            let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
            ids.push(v["id"].as_u64().expect("a replayed event has an id"));
        }
    }
    assert_eq!(ids, (1..=latest).collect::<Vec<_>>(), "no gap, in order");
    app.put_as(
        &interpreter.access,
        "/v1/interpreters/me/status",
        &json!({"status": "away"}),
    )
    .await;
    let live = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), fresh.next())
            .await
            .expect("a live event within 10 s")
            .expect("open")
            .expect("valid");
        if let Message::Text(text) = message {
            let v: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if v["id"].as_u64() > Some(latest) {
                break v;
            }
        }
    };
    assert_eq!(live["type"], "status.changed");
    assert_eq!(live["data"]["status"], "away");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
    let app = Arc::into_inner(app).expect("the fuzzing tasks are done");
    app.stop().await;
}
