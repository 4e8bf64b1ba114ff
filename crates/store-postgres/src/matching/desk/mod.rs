//! An interpreter's row as matching reads and writes it: presence and the day's counters.
//!
//! Every transaction that changes an interpreter, or an offer made to one, locks this row first
//! (`FOR UPDATE`); several rows are locked in `user_id` order. Request rows come after, offers
//! last, so that no two transactions can wait for each other in a cycle.
//!
//! The counters of "today" belong to `stats_day` (a UTC day): read on another day they are zero,
//! and the first change on a new day starts them again.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use dragoman_domain::matching::{AwayReason, InterpreterSnapshot, Presence};
use dragoman_domain::{
    InterpreterStatus, LanguageSkill, ModalitySet, Profile, SpecializationSet, UserId,
};
use dragoman_ports::StoreError;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::rows::get;
use crate::{PgStore, corrupt, interpreters};

/// `SELECT` of every column a desk needs (and any `extra` ones) from `interpreters`, then the
/// given tail.
macro_rules! select_desk {
    ($tail:literal) => {
        $crate::matching::desk::select_desk!("", $tail)
    };
    ($extra:literal, $tail:literal) => {
        concat!(
            "SELECT user_id, status, status_since, COALESCE(idle_since, status_since) AS idle_since, missed_in_a_row, away_reason, away_missed_count, stats_day, declines_today, talk_time_today_ms, last_offered_at, specializations, modalities, profile_updated_at IS NOT NULL AS has_profile, profile_version",
            $extra,
            " FROM interpreters ",
            $tail
        )
    };
}

pub(crate) use select_desk;

mod sql;

pub(crate) use sql::{lock, lock_many, save, save_claim, save_many};

/// One interpreter's matching state.
#[derive(Debug, Clone)]
pub(crate) struct Desk {
    pub user_id: UserId,
    pub presence: Presence,
    /// The status as read: writing back is a compare-and-set on it.
    read_status: InterpreterStatus,
    pub has_profile: bool,
    /// Raised by every profile change (the key of the store's `ProfileCache`).
    pub profile_version: i64,
    specializations: i64,
    modalities: i64,
    stats_day: Option<NaiveDate>,
    declines: u32,
    talk_time_ms: i64,
    pub last_offered_at: Option<DateTime<Utc>>,
}

impl Desk {
    pub fn from_row(row: &PgRow) -> Result<Self, StoreError> {
        let away_reason = match get::<Option<String>>(row, "away_reason")?.as_deref() {
            None => None,
            Some("missed_offers") => Some(AwayReason::MissedOffers {
                count: count(get::<Option<i32>>(row, "away_missed_count")?.unwrap_or(0))?,
            }),
            Some(other) => return Err(corrupt(format!("away reason {other:?}"))),
        };
        let status = InterpreterStatus::parse(&get::<String>(row, "status")?).map_err(corrupt)?;
        Ok(Self {
            user_id: UserId(get(row, "user_id")?),
            read_status: status,
            presence: Presence {
                status,
                since: get(row, "status_since")?,
                idle_since: get(row, "idle_since")?,
                missed_in_a_row: count(get(row, "missed_in_a_row")?)?,
                away_reason,
            },
            has_profile: get(row, "has_profile")?,
            profile_version: get(row, "profile_version")?,
            specializations: get(row, "specializations")?,
            modalities: get(row, "modalities")?,
            stats_day: get(row, "stats_day")?,
            declines: count(get(row, "declines_today")?)?,
            talk_time_ms: get(row, "talk_time_today_ms")?,
            last_offered_at: get(row, "last_offered_at")?,
        })
    }

    /// Offers declined on `now`'s UTC day.
    pub fn declines_today(&self, now: DateTime<Utc>) -> u32 {
        if self.stats_day == Some(now.date_naive()) {
            self.declines
        } else {
            0
        }
    }

    /// Session time on `now`'s UTC day.
    pub fn talk_time_today(&self, now: DateTime<Utc>) -> TimeDelta {
        if self.stats_day == Some(now.date_naive()) {
            TimeDelta::milliseconds(self.talk_time_ms)
        } else {
            TimeDelta::zero()
        }
    }

    /// Counts one more decline on `now`'s day.
    pub fn count_decline(&mut self, now: DateTime<Utc>) {
        self.declines = self.declines_today(now).saturating_add(1);
        self.talk_time_ms = self.talk_time_today(now).num_milliseconds();
        self.stats_day = Some(now.date_naive());
    }

    /// Counts a session's length as talk time of `now`'s day (the day it ended).
    pub fn count_talk_time(&mut self, now: DateTime<Utc>, length: TimeDelta) {
        self.talk_time_ms =
            (self.talk_time_today(now) + length.max(TimeDelta::zero())).num_milliseconds();
        self.declines = self.declines_today(now);
        self.stats_day = Some(now.date_naive());
    }

    /// What matching sees of this interpreter at `now`, given the profile.
    pub fn snapshot(&self, profile: Profile, now: DateTime<Utc>) -> InterpreterSnapshot {
        InterpreterSnapshot {
            id: self.user_id,
            status: self.presence.status,
            profile,
            idle_since: self.presence.idle_since,
            declines_today: self.declines_today(now),
            talk_time_today: self.talk_time_today(now),
            last_offered_at: self.last_offered_at,
        }
    }

    /// The profile from its languages and this row's masks.
    pub fn profile_of(&self, languages: Vec<LanguageSkill>) -> Result<Profile, StoreError> {
        Profile::new(
            languages,
            SpecializationSet::from_bits(self.specializations),
            ModalitySet::from_bits(self.modalities),
        )
        .map_err(corrupt)
    }

    /// The profile, read after the row is locked so that a concurrent profile change is seen
    /// whole. `None` without a profile.
    pub async fn profile(
        &self,
        store: &PgStore,
        conn: &mut PgConnection,
    ) -> Result<Option<Profile>, StoreError> {
        if !self.has_profile {
            return Ok(None);
        }
        let languages =
            interpreters::languages_at(store, conn, self.user_id, self.profile_version).await?;
        self.profile_of(languages).map(Some)
    }
}

fn count(raw: i32) -> Result<u32, StoreError> {
    u32::try_from(raw).map_err(|_| corrupt(format!("negative count {raw}")))
}

fn stored(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Writes back the desks of `changed` (each once), in one statement.
pub(crate) async fn save_desks(
    store: &PgStore,
    conn: &mut sqlx::PgConnection,
    desks: &HashMap<UserId, Desk>,
    changed: impl Iterator<Item = UserId>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let changed: Vec<&Desk> = changed
        .filter(|id| seen.insert(*id))
        .filter_map(|id| desks.get(&id))
        .collect();
    save_many(store, conn, &changed).await
}
