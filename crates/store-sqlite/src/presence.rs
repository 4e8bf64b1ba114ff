//! The presence role on SQLite: the status columns shared with the accounts side, what matching
//! remembers beside them, the day's counters, the manual status change, and the list the
//! presence sweep works from.
//!
//! `status` and `status_since` are the same columns `InterpreterStore::interpreter` and
//! `InterpreterStore::update_status` read and write, so both ports always agree;
//! `Presence::since` is `status_since`. `idle_since` is NULL for an interpreter who never became
//! available and then reads as `status_since`, which is what `Presence::new` would have set.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{AwayReason, Presence, RequestEvent};
use dragoman_domain::{InterpreterStatus, LanguageCode, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{PresenceRecord, SetStatusOutcome};
use sqlx::SqliteConnection;

use crate::rows::get;
use crate::{SqliteStore, begin_write, corrupt, db_error, instant, micros, offers, requests};

/// The day a "today" counter belongs to: days since the epoch, in UTC.
pub(crate) fn utc_day(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(86_400)
}

/// An interpreter's presence, and whether they have a profile (needed to become available).
pub(crate) async fn load(
    conn: &mut SqliteConnection,
    user: UserId,
) -> Result<Option<(Presence, bool)>, StoreError> {
    let Some(row) = sqlx::query(
        "SELECT status, status_since, idle_since, missed_in_a_row, away_reason, away_missed_count,
                profile_updated_at IS NOT NULL AS has_profile
         FROM interpreters WHERE user_id = ?",
    )
    .bind(user.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    else {
        return Ok(None);
    };
    let since = instant(get(&row, "status_since")?)?;
    let away_reason = match get::<Option<String>>(&row, "away_reason")?.as_deref() {
        None => None,
        Some("missed_offers") => Some(AwayReason::MissedOffers {
            count: u32::try_from(get::<Option<i64>>(&row, "away_missed_count")?.unwrap_or(0))
                .map_err(corrupt)?,
        }),
        Some(other) => return Err(corrupt(format!("away reason {other:?}"))),
    };
    let presence = Presence {
        status: InterpreterStatus::parse(&get::<String>(&row, "status")?).map_err(corrupt)?,
        since,
        idle_since: get::<Option<i64>>(&row, "idle_since")?
            .map(instant)
            .transpose()?
            .unwrap_or(since),
        missed_in_a_row: u32::try_from(get::<i64>(&row, "missed_in_a_row")?).map_err(corrupt)?,
        away_reason,
    };
    Ok(Some((presence, get(&row, "has_profile")?)))
}

/// Writes every column of `presence` back.
pub(crate) async fn save(
    conn: &mut SqliteConnection,
    user: UserId,
    presence: &Presence,
) -> Result<(), StoreError> {
    let (reason, count) = match presence.away_reason {
        None => (None, None),
        Some(AwayReason::MissedOffers { count }) => (Some("missed_offers"), Some(i64::from(count))),
    };
    sqlx::query(
        "UPDATE interpreters SET status = ?, status_since = ?, idle_since = ?, missed_in_a_row = ?,
                away_reason = ?, away_missed_count = ?
         WHERE user_id = ?",
    )
    .bind(presence.status.as_str())
    .bind(micros(presence.since))
    .bind(micros(presence.idle_since))
    .bind(i64::from(presence.missed_in_a_row))
    .bind(reason)
    .bind(count)
    .bind(user.0)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Gives a reserved interpreter back their place after their offer was rescinded. An interpreter
/// found elsewhere (moved by the accounts side's compare-and-set) is left where they are.
pub(crate) async fn release(
    conn: &mut SqliteConnection,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Some((presence, _)) = load(conn, user).await?
        && let Ok(released) = presence.rescind(now)
    {
        save(conn, user, &released).await?;
    }
    Ok(())
}

/// Adds one decline and `talk` of session time to the counters of `at`'s UTC day, starting the
/// day's counters afresh if they belonged to an earlier day.
pub(crate) async fn count_today(
    conn: &mut SqliteConnection,
    user: UserId,
    at: DateTime<Utc>,
    declines: u32,
    talk: TimeDelta,
) -> Result<(), StoreError> {
    let day = utc_day(at);
    sqlx::query(
        "UPDATE interpreters SET
            declines_today = CASE WHEN stats_day = ? THEN declines_today ELSE 0 END + ?,
            talk_time_today_us = CASE WHEN stats_day = ? THEN talk_time_today_us ELSE 0 END + ?,
            stats_day = ?
         WHERE user_id = ?",
    )
    .bind(day)
    .bind(i64::from(declines))
    .bind(day)
    .bind(talk.num_microseconds().unwrap_or(0).max(0))
    .bind(day)
    .bind(user.0)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[async_trait::async_trait]
impl dragoman_ports::PresenceStore for SqliteStore {
    async fn presence(&self, user: UserId) -> Result<Option<PresenceRecord>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        let Some((presence, _)) = load(&mut conn, user).await? else {
            return Ok(None);
        };
        let languages = sqlx::query(
            "SELECT code FROM interpreter_languages WHERE user_id = ? ORDER BY position",
        )
        .bind(user.0)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| LanguageCode::parse(&get::<String>(row, "code")?).map_err(corrupt))
        .collect::<Result<_, _>>()?;
        Ok(Some(PresenceRecord {
            user_id: user,
            presence,
            languages,
        }))
    }

    /// The interpreter's own change. Leaving `reserved` rescinds the pending offer and puts its
    /// request back in the queue, in the same transaction.
    async fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>,
    ) -> Result<SetStatusOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let Some((presence, has_profile)) = load(&mut tx, user).await? else {
            return Ok(SetStatusOutcome::NotFound);
        };
        let next = match presence.set_manually(to, has_profile, now) {
            Ok(next) => next,
            Err(refused) => return Ok(SetStatusOutcome::Refused(refused)),
        };
        let mut rescinded = None;
        if presence.holds_offer()
            && !next.holds_offer()
            && let Some(offer) = offers::pending_of_interpreter(&mut tx, user).await?
        {
            let offer = offer.rescind().map_err(corrupt)?;
            offers::settle(&mut tx, &offer, now).await?;
            requests::advance(&mut tx, offer.request_id, RequestEvent::Requeue, now).await?;
            rescinded = Some(offer);
        }
        save(&mut tx, user, &next).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(SetStatusOutcome::Changed {
            presence: next,
            rescinded,
        })
    }

    async fn interpreters_online(&self) -> Result<Vec<dragoman_domain::UserId>, StoreError> {
        sqlx::query("SELECT user_id FROM interpreters WHERE status IN ('available', 'away', 'reserved', 'wrap_up')")
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?
            .iter()
            .map(|row| Ok(dragoman_domain::UserId(get::<uuid::Uuid>(row, "user_id")?)))
            .collect()
    }
}
