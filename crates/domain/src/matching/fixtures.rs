//! Small builders shared by the matching tests: instants, ids, profiles and interpreters.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{InterpreterSnapshot, Need, Priority, Request, RequestId};
use crate::{
    InterpreterStatus, LanguageCode, LanguageSkill, Level, Modality, ModalitySet, Profile,
    Specialization, SpecializationSet, UserId,
};

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

pub fn profile(codes: &[&str], specs: &[Specialization], mods: &[Modality]) -> Profile {
    let languages = codes
        .iter()
        .map(|c| LanguageSkill {
            code: lang(c),
            level: Level::Professional,
            certified: false,
        })
        .collect();
    Profile::new(
        languages,
        specs.iter().copied().collect::<SpecializationSet>(),
        mods.iter().copied().collect::<ModalitySet>(),
    )
    .expect("a valid profile")
}

/// An available Spanish general video interpreter, idle since `idle_since` seconds.
pub fn interpreter(n: u128, idle_since: i64) -> InterpreterSnapshot {
    InterpreterSnapshot {
        id: user(n),
        status: InterpreterStatus::Available,
        profile: profile(&["es"], &[Specialization::General], &[Modality::Video]),
        idle_since: at(idle_since),
        declines_today: 0,
        talk_time_today: TimeDelta::zero(),
        last_offered_at: None,
    }
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
