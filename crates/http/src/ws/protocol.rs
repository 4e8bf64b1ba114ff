//! The WebSocket protocol of API.md: the frames the server sends and the messages it accepts.

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use dragoman_ports::Delivered;

/// A server frame's fields, borrowed from the event: serializing does not copy its data.
#[derive(Serialize)]
struct FrameFields<'a> {
    id: Option<u64>,
    #[serde(rename = "type")]
    kind: &'a str,
    at: String,
    data: &'a Value,
}

/// A server frame: `{"id", "type", "at", "data"}`.
pub fn frame(delivered: &Delivered) -> String {
    let fields = FrameFields {
        id: delivered.id,
        kind: delivered.event.kind,
        at: delivered
            .event
            .at
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        data: &delivered.event.data,
    };
    // A struct of strings, numbers and a JSON value always serializes.
    serde_json::to_string(&fields).unwrap_or_default()
}

/// An event's frame, serialized once and shared by every connection it goes to (cloning the
/// text shares its bytes).
#[derive(Debug)]
pub struct Frame {
    pub id: Option<u64>,
    pub text: Utf8Bytes,
}

impl Frame {
    pub fn of(delivered: &Delivered) -> Self {
        Self {
            id: delivered.id,
            text: frame(delivered).into(),
        }
    }
}

/// An `error` frame, to this connection only (`"id": null`, never replayed).
pub fn error_frame(code: &str, detail: &str, at: DateTime<Utc>) -> String {
    json!({
        "id": null,
        "type": "error",
        "at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": {"code": code, "detail": detail},
    })
    .to_string()
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Replay the caller's events after this id, then carry on live.
    Resume {
        after: u64,
    },
    Subscribe {
        topic: Topic,
    },
}

/// The topics a connection may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Availability,
}

/// Why a client message was refused; the connection stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
}

fn refuse(code: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal {
        code,
        detail: detail.into(),
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: Option<Value>,
    after: Option<Value>,
    topic: Option<Value>,
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<ClientMessage, Refusal> {
    let raw: Raw = serde_json::from_str(text).map_err(|_| {
        refuse(
            "malformed",
            "send a JSON object such as {\"type\":\"resume\",\"after\":0}",
        )
    })?;
    match raw.kind.as_ref().and_then(Value::as_str) {
        Some("resume") => {
            let after = raw.after.as_ref().and_then(Value::as_u64).ok_or_else(|| {
                refuse(
                    "invalid",
                    "resume needs \"after\": a non-negative integer id",
                )
            })?;
            Ok(ClientMessage::Resume { after })
        }
        Some("subscribe") => match raw.topic.as_ref().and_then(Value::as_str) {
            Some("availability") => Ok(ClientMessage::Subscribe {
                topic: Topic::Availability,
            }),
            _ => Err(refuse("invalid", "the only topic is \"availability\"")),
        },
        Some(_) => Err(refuse(
            "unknown_type",
            "known types are resume and subscribe",
        )),
        None => Err(refuse("malformed", "a message needs a \"type\"")),
    }
}

/// A token bucket for one connection's messages: `rate` a second, bursts of `burst`. It reads
/// no clock: each call is handed the instant it happens at (the connection reads its clock).
#[derive(Debug)]
pub struct Throttle {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: tokio::time::Instant,
    /// Messages refused in a row; past a limit the connection is closed.
    pub refused_in_a_row: u32,
}

impl Throttle {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: f64, now: tokio::time::Instant) -> Self {
        Self {
            tokens: burst,
            rate,
            burst,
            last: now,
            refused_in_a_row: 0,
        }
    }

    /// Whether one more message, arriving at `now`, may be handled.
    pub fn allow(&mut self, now: tokio::time::Instant) -> bool {
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused_in_a_row = 0;
            true
        } else {
            self.refused_in_a_row += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_or_are_refused_with_a_reason() {
        assert_eq!(
            parse(r#"{"type":"resume","after":7}"#),
            Ok(ClientMessage::Resume { after: 7 })
        );
        assert_eq!(
            parse(r#"{"type":"subscribe","topic":"availability"}"#),
            Ok(ClientMessage::Subscribe {
                topic: Topic::Availability
            })
        );
        for (text, code) in [
            ("not json", "malformed"),
            ("[1,2]", "malformed"),
            ("{}", "malformed"),
            (r#"{"type":"resume"}"#, "invalid"),
            (r#"{"type":"resume","after":-1}"#, "invalid"),
            (r#"{"type":"resume","after":"3"}"#, "invalid"),
            (r#"{"type":"subscribe","topic":"secrets"}"#, "invalid"),
            (r#"{"type":"launch"}"#, "unknown_type"),
            (r#"{"type":5}"#, "malformed"),
        ] {
            assert_eq!(parse(text).map_err(|r| r.code), Err(code), "{text}");
        }
    }

    #[test]
    fn frames_carry_id_type_at_and_data_in_that_order() {
        let at: DateTime<Utc> = "2026-03-01T10:00:00.123456Z".parse().expect("a time");
        let delivered = Delivered {
            id: Some(7),
            event: dragoman_ports::Event {
                audience: dragoman_ports::Audience::Topic("availability".to_owned()),
                kind: "availability.changed",
                at,
                data: json!({"code": "es", "available": 3}),
            },
        };
        let expected = r#"{"id":7,"type":"availability.changed","at":"2026-03-01T10:00:00.123Z","data":{"code":"es","available":3}}"#;
        assert_eq!(frame(&delivered), expected);
        let shared = Frame::of(&Delivered {
            id: None,
            ..delivered
        });
        assert_eq!(shared.id, None);
        assert!(shared.text.as_str().starts_with(r#"{"id":null,"type""#));
    }

    #[test]
    fn the_throttle_allows_bursts_then_refuses() {
        let start = tokio::time::Instant::now();
        let mut t = Throttle::new(1.0, 3.0, start);
        assert!(t.allow(start) && t.allow(start) && t.allow(start));
        assert!(!t.allow(start));
        assert_eq!(t.refused_in_a_row, 1);
        // A second later, one more: the bucket refills at its rate, and no further.
        let later = start + std::time::Duration::from_secs(1);
        assert!(t.allow(later));
        assert_eq!(t.refused_in_a_row, 0);
        assert!(!t.allow(later));
        // Long idle: a full burst again, never more.
        let much_later = later + std::time::Duration::from_secs(3600);
        assert!(t.allow(much_later) && t.allow(much_later) && t.allow(much_later));
        assert!(!t.allow(much_later));
    }
}
