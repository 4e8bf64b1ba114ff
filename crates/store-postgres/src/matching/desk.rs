//! An interpreter's row as matching reads and writes it: presence and the day's counters.
//!
//! Every transaction that changes an interpreter, or an offer made to one, locks this row first
//! (`FOR UPDATE`); several rows are locked in `user_id` order. Request rows come after, offers
//! last, so that no two transactions can wait for each other in a cycle.
//!
//! The counters of "today" belong to `stats_day` (a UTC day): read on another day they are zero,
//! and the first change on a new day starts them again.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use dragoman_domain::matching::{AwayReason, InterpreterSnapshot, Presence};
use dragoman_domain::{InterpreterStatus, Profile, UserId};
use dragoman_ports::StoreError;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::rows::get;
use crate::{PgStore, corrupt, db_error, interpreters};

/// `SELECT` of every column a desk needs (and any `extra` ones) from `interpreters`, then the
/// given tail.
macro_rules! select_desk {
    ($tail:literal) => {
        $crate::matching::desk::select_desk!("", $tail)
    };
    ($extra:literal, $tail:literal) => {
        concat!(
            "SELECT user_id, status, status_since, COALESCE(idle_since, status_since) AS idle_since, missed_in_a_row, away_reason, away_missed_count, stats_day, declines_today, talk_time_today_ms, last_offered_at, specializations, modalities, profile_updated_at IS NOT NULL AS has_profile",
            $extra,
            " FROM interpreters ",
            $tail
        )
    };
}

pub(crate) use select_desk;

/// One interpreter's matching state.
#[derive(Debug, Clone)]
pub(crate) struct Desk {
    pub user_id: UserId,
    pub presence: Presence,
    /// The status as read: writing back is a compare-and-set on it.
    read_status: InterpreterStatus,
    pub has_profile: bool,
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

    /// The profile from its languages (code, level, certified) and this row's masks.
    pub fn profile_from(
        &self,
        languages: impl IntoIterator<Item = (String, String, bool)>,
    ) -> Result<Profile, StoreError> {
        interpreters::profile_from_parts(languages, self.specializations, self.modalities)
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
        interpreters::read_profile(
            store,
            conn,
            self.user_id,
            self.specializations,
            self.modalities,
        )
        .await
        .map(Some)
    }
}

fn count(raw: i32) -> Result<u32, StoreError> {
    u32::try_from(raw).map_err(|_| corrupt(format!("negative count {raw}")))
}

fn stored(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Locks one interpreter's row; `None` if the user is not an interpreter.
pub(crate) async fn lock(
    store: &PgStore,
    conn: &mut PgConnection,
    user: UserId,
) -> Result<Option<Desk>, StoreError> {
    store
        .q(select_desk!("WHERE user_id = $1 FOR UPDATE"))
        .bind(user.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|r| Desk::from_row(&r))
        .transpose()
}

/// Locks the rows of `users` in `user_id` order; unknown users are left out.
pub(crate) async fn lock_many(
    store: &PgStore,
    conn: &mut PgConnection,
    users: &[UserId],
) -> Result<HashMap<UserId, Desk>, StoreError> {
    if users.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
    store
        .q(select_desk!(
            "WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE"
        ))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| Desk::from_row(r).map(|d| (d.user_id, d)))
        .collect()
}

/// Writes the desk back if its status is still the one read, and says whether it did. The row
/// is locked by this transaction, so the condition only fails if something is badly wrong, or
/// for [`save_claim`], where it repeats the claim's condition in SQL.
async fn write(store: &PgStore, conn: &mut PgConnection, desk: &Desk) -> Result<bool, StoreError> {
    let p = &desk.presence;
    let (reason, missed) = match p.away_reason {
        None => (None, None),
        Some(AwayReason::MissedOffers { count }) => (Some("missed_offers"), Some(stored(count))),
    };
    let done = store
        .q(
            "UPDATE interpreters SET status = $2, status_since = $3, idle_since = $4,
                missed_in_a_row = $5, away_reason = $6, away_missed_count = $7, stats_day = $8,
                declines_today = $9, talk_time_today_ms = $10, last_offered_at = $11
            WHERE user_id = $1 AND status = $12",
        )
        .bind(desk.user_id.0)
        .bind(p.status.as_str())
        .bind(p.since)
        .bind(p.idle_since)
        .bind(stored(p.missed_in_a_row))
        .bind(reason)
        .bind(missed)
        .bind(desk.stats_day)
        .bind(stored(desk.declines))
        .bind(desk.talk_time_ms.max(0))
        .bind(desk.last_offered_at)
        .bind(desk.read_status.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(done.rows_affected() == 1)
}

/// Writes the desk back (its row must be locked by this transaction).
pub(crate) async fn save(
    store: &PgStore,
    conn: &mut PgConnection,
    desk: &Desk,
) -> Result<(), StoreError> {
    if write(store, conn, desk).await? {
        Ok(())
    } else {
        Err(corrupt(format!(
            "interpreter {} changed status under this transaction's lock",
            desk.user_id
        )))
    }
}

/// Writes back a desk that was `available` and is now `reserved`: false, writing nothing, if
/// the row is not `available` (the claim is lost).
pub(crate) async fn save_claim(
    store: &PgStore,
    conn: &mut PgConnection,
    desk: &Desk,
) -> Result<bool, StoreError> {
    if desk.read_status != InterpreterStatus::Available {
        return Ok(false);
    }
    write(store, conn, desk).await
}
