//! Small builders shared by the matching tests: instants, ids, profiles and interpreters.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Need, Priority, Request, RequestId};
use crate::{LanguageCode, Modality, Specialization, UserId};

/// `secs` seconds after a fixed origin.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_760_000_000, 0).expect("a valid instant")
        + TimeDelta::seconds(secs)
}

pub fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

pub fn request_id(n: u128) -> RequestId {
    RequestId(Uuid::from_u128(n))
}

pub fn lang(code: &str) -> LanguageCode {
    LanguageCode::parse(code).expect("a valid language code")
}

pub fn need(code: &str, specialization: Specialization, modality: Modality) -> Need {
    Need::new(lang(code), Some(specialization), Some(modality))
}

/// A queued Spanish general video request created at `created` seconds.
pub fn request(n: u128, created: i64) -> Request {
    Request::new(
        request_id(n),
        user(1_000 + n),
        need("es", Specialization::General, Modality::Video),
        Priority::NORMAL,
        at(created),
    )
}
