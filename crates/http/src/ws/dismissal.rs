//! Closing WebSockets from outside them, on whichever instance holds them: the oldest socket of
//! a user past the per-user cap, and every socket of a user whose rights were taken back.
//!
//! The instruction travels on the bus to the gateway of every instance (an
//! [`Audience::Gateways`] event of kind `connections.close`, never shown to a client nor kept);
//! each gateway closes what it holds of it. [`revoke`] is the entry point for whatever takes a
//! user's rights back (signing out everywhere, an administrator blocking an account): it closes
//! each of the user's sockets with 4003, and the app signs in again.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_ports::{Audience, Bus, Delivered, Event, SocketId};
use serde_json::{Value, json};

/// The event kind of the instruction.
const KIND: &str = "connections.close";

/// Why a connection is closed by the server from outside it; each has its close code
/// (docs/api-extensions.md lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dismissal {
    /// 4001: the access token that opened the socket expired.
    TokenExpired,
    /// 4003: the user's rights were taken back (signed out everywhere).
    Revoked,
    /// 4008: a newer socket of the user took its place past the per-user cap.
    Replaced,
}

impl Dismissal {
    pub fn code(self) -> u16 {
        match self {
            Dismissal::TokenExpired => 4001,
            Dismissal::Revoked => 4003,
            Dismissal::Replaced => 4008,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Dismissal::TokenExpired => "token expired",
            Dismissal::Revoked => "signed out",
            Dismissal::Replaced => "too many connections: replaced by a newer one",
        }
    }

    pub fn from_code(code: u16) -> Option<Self> {
        [
            Dismissal::TokenExpired,
            Dismissal::Revoked,
            Dismissal::Replaced,
        ]
        .into_iter()
        .find(|d| d.code() == code)
    }
}

/// What a gateway is told to close: one socket, or every socket of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub user: UserId,
    pub socket: Option<SocketId>,
    pub why: Dismissal,
}

impl Instruction {
    fn event(&self, at: DateTime<Utc>) -> Event {
        let socket = self
            .socket
            .as_ref()
            .map(|s| json!({"instance": s.instance, "number": s.number}));
        Event {
            audience: Audience::Gateways,
            kind: KIND,
            at,
            data: json!({"user": self.user.to_string(), "socket": socket, "code": self.why.code()}),
        }
    }

    /// The instruction an event carries, if it is one.
    pub fn of(delivered: &Delivered) -> Option<Self> {
        let event = &delivered.event;
        if event.audience != Audience::Gateways || event.kind != KIND {
            return None;
        }
        let data = &event.data;
        let user = UserId(data["user"].as_str()?.parse().ok()?);
        let why = Dismissal::from_code(u16::try_from(data["code"].as_u64()?).ok()?)?;
        let socket = match &data["socket"] {
            Value::Null => None,
            s => Some(SocketId {
                instance: s["instance"].as_str()?.to_owned(),
                number: s["number"].as_u64()?,
            }),
        };
        Some(Self { user, socket, why })
    }

    /// Sends the instruction to every instance's gateway.
    pub fn publish(&self, bus: &dyn Bus, at: DateTime<Utc>) {
        bus.publish(self.event(at));
    }
}

/// Closes every WebSocket of `user`, on every instance, with 4003 "signed out": what takes a
/// user's rights back calls this once their tokens are revoked.
pub fn revoke(bus: &dyn Bus, user: UserId, at: DateTime<Utc>) {
    Instruction {
        user,
        socket: None,
        why: Dismissal::Revoked,
    }
    .publish(bus, at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_round_trip_through_an_event() {
        let user = UserId(uuid::Uuid::new_v4());
        for socket in [
            None,
            Some(SocketId {
                instance: "instance-a".to_owned(),
                number: 7,
            }),
        ] {
            let instruction = Instruction {
                user,
                socket,
                why: Dismissal::Replaced,
            };
            let delivered = Delivered {
                id: None,
                event: instruction.event(Utc::now()),
            };
            assert_eq!(Instruction::of(&delivered), Some(instruction));
        }
        for why in [
            Dismissal::TokenExpired,
            Dismissal::Revoked,
            Dismissal::Replaced,
        ] {
            assert_eq!(Dismissal::from_code(why.code()), Some(why));
        }
        assert_eq!(Dismissal::from_code(1000), None);
    }
}
