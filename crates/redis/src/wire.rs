//! Events as the bus carries them: one JSON text per event, in the stream entries of the user
//! logs and in the pub/sub messages (user events behind their id: `<id> <json>`; instructions
//! to the gateways marked `"gateways": true`).

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{Audience, Delivered, Event};
use serde_json::{Value, json};

/// The event kinds of API.md, so a decoded event keeps a `&'static str` kind.
const KINDS: &[&str] = &[
    "offer.created",
    "offer.rescinded",
    "request.updated",
    "request.matched",
    "session.ended",
    "status.changed",
    "availability.changed",
    "connections.close",
];

pub(crate) fn encode(event: &Event) -> String {
    let (user, topic) = match &event.audience {
        Audience::User(u) => (Some(u.to_string()), None),
        Audience::Topic(t) => (None, Some(t.clone())),
        Audience::Gateways => {
            return json!({"gateways": true, "kind": event.kind, "at": event.at, "data": event.data})
                .to_string();
        }
    };
    json!({"user": user, "topic": topic, "kind": event.kind, "at": event.at, "data": event.data})
        .to_string()
}

pub(crate) fn decode(id: Option<u64>, text: &str) -> Option<Delivered> {
    let v: Value = serde_json::from_str(text).ok()?;
    let kind = KINDS.iter().copied().find(|k| v["kind"] == *k)?;
    let audience = match (v["user"].as_str(), v["topic"].as_str()) {
        (Some(u), _) => Audience::User(UserId(u.parse().ok()?)),
        (None, Some(t)) => Audience::Topic(t.to_owned()),
        _ if v["gateways"] == true => Audience::Gateways,
        _ => return None,
    };
    let at: DateTime<Utc> = v["at"].as_str()?.parse().ok()?;
    Some(Delivered {
        id,
        event: Event {
            audience,
            kind,
            at,
            data: v["data"].clone(),
        },
    })
}

/// A message of the user channel: the event's id, a space, the event.
pub(crate) fn decode_user_message(payload: &str) -> Option<Delivered> {
    let (id, event) = payload.split_once(' ')?;
    decode(Some(id.parse().ok()?), event)
}
