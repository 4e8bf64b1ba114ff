//! Locking an interpreter's row and writing it back.
//!
//! Rows are locked `FOR UPDATE`, several in `user_id` order. Every write is a compare-and-set on
//! the status read under the lock: for a claim it repeats the claim's condition in SQL; anywhere
//! else it cannot fail unless something wrote the row under our lock.

use std::collections::HashMap;

use dragoman_domain::matching::AwayReason;
use dragoman_domain::{InterpreterStatus, UserId};
use dragoman_ports::StoreError;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Desk, stored};
use crate::{PgStore, corrupt, db_error};

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

/// Writes back several desks in one statement, each a compare-and-set like [`save`].
pub(crate) async fn save_many(
    store: &PgStore,
    conn: &mut PgConnection,
    desks: &[&Desk],
) -> Result<(), StoreError> {
    if desks.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(desks.len());
    let mut statuses = Vec::with_capacity(desks.len());
    let mut since = Vec::with_capacity(desks.len());
    let mut idle = Vec::with_capacity(desks.len());
    let mut missed = Vec::with_capacity(desks.len());
    let mut reasons: Vec<Option<&str>> = Vec::with_capacity(desks.len());
    let mut counts: Vec<Option<i32>> = Vec::with_capacity(desks.len());
    let mut days = Vec::with_capacity(desks.len());
    let mut declines = Vec::with_capacity(desks.len());
    let mut talk = Vec::with_capacity(desks.len());
    let mut offered = Vec::with_capacity(desks.len());
    let mut read = Vec::with_capacity(desks.len());
    for d in desks {
        let p = &d.presence;
        ids.push(d.user_id.0);
        statuses.push(p.status.as_str());
        since.push(p.since);
        idle.push(p.idle_since);
        missed.push(stored(p.missed_in_a_row));
        let (reason, count) = match p.away_reason {
            None => (None, None),
            Some(AwayReason::MissedOffers { count }) => {
                (Some("missed_offers"), Some(stored(count)))
            }
        };
        reasons.push(reason);
        counts.push(count);
        days.push(d.stats_day);
        declines.push(stored(d.declines));
        talk.push(d.talk_time_ms.max(0));
        offered.push(d.last_offered_at);
        read.push(d.read_status.as_str());
    }
    let done = store
        .q(
            "UPDATE interpreters i SET status = u.status, status_since = u.since,
                idle_since = u.idle_since, missed_in_a_row = u.missed, away_reason = u.reason,
                away_missed_count = u.missed_count, stats_day = u.stats_day,
                declines_today = u.declines, talk_time_today_ms = u.talk,
                last_offered_at = u.last_offered_at
            FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::int4[],
                        $6::text[], $7::int4[], $8::date[], $9::int4[], $10::int8[],
                        $11::timestamptz[], $12::text[])
                 AS u(user_id, status, since, idle_since, missed, reason, missed_count, stats_day,
                      declines, talk, last_offered_at, read_status)
            WHERE i.user_id = u.user_id AND i.status = u.read_status",
        )
        .bind(ids)
        .bind(statuses)
        .bind(since)
        .bind(idle)
        .bind(missed)
        .bind(reasons)
        .bind(counts)
        .bind(days)
        .bind(declines)
        .bind(talk)
        .bind(offered)
        .bind(read)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    if done.rows_affected() != desks.len() as u64 {
        return Err(corrupt(
            "an interpreter changed status under this transaction's lock",
        ));
    }
    Ok(())
}
