//! Sessions on SQLite: opening (from an accepted offer), reads, the caller's list, ending and
//! rating. The rating lives in the session's row: a session has at most one, and its columns
//! are constrained to appear only once the session has ended.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Rating, Session, SessionId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::SessionOutcome;
use sqlx::{SqliteConnection, SqlitePool};

use crate::rows::{self, select_session};
use crate::{begin_write, db_error, micros, presence};

/// Opens a session. `sessions_request_key` and `sessions_one_open_per_interpreter` refuse a
/// second session of a request or a second open session of an interpreter.
pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    session: &Session,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, request_id, client_id, interpreter_id, language, specialization,
                               modality, started_at, match_time_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(session.id.0)
    .bind(session.request_id.0)
    .bind(session.client_id.0)
    .bind(session.interpreter_id.0)
    .bind(session.need.language.as_str())
    .bind(session.need.specialization.as_str())
    .bind(session.need.modality.as_str())
    .bind(micros(session.started_at))
    .bind(session.match_time_ms)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn load(conn: &mut SqliteConnection, id: SessionId) -> Result<Option<Session>, StoreError> {
    sqlx::query(select_session!("WHERE id = ?"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|row| rows::session(&row))
        .transpose()
}

pub(crate) async fn session(
    pool: &SqlitePool,
    id: SessionId,
) -> Result<Option<Session>, StoreError> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    load(&mut conn, id).await
}

/// Newest first; with a cursor, only those strictly before the cursor's session in that order.
/// An unknown cursor yields nothing rather than starting over.
pub(crate) async fn sessions_of(
    pool: &SqlitePool,
    user: UserId,
    before: Option<SessionId>,
    limit: u32,
) -> Result<Vec<Session>, StoreError> {
    let query = match before {
        None => sqlx::query(select_session!(
            "WHERE (client_id = ? OR interpreter_id = ?)
             ORDER BY started_at DESC, id DESC LIMIT ?"
        ))
        .bind(user.0)
        .bind(user.0),
        Some(cursor) => sqlx::query(select_session!(
            "WHERE (client_id = ? OR interpreter_id = ?)
               AND (started_at, id) < (SELECT c.started_at, c.id FROM sessions c WHERE c.id = ?)
             ORDER BY started_at DESC, id DESC LIMIT ?"
        ))
        .bind(user.0)
        .bind(user.0)
        .bind(cursor.0),
    };
    query
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(rows::session)
        .collect()
}

/// Ends the session; the interpreter goes to `wrap_up` and the session counts as talk time of
/// the day it ended.
pub(crate) async fn end(
    pool: &SqlitePool,
    id: SessionId,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<SessionOutcome, StoreError> {
    let mut tx = begin_write(pool).await?;
    let Some(session) = load(&mut tx, id).await? else {
        return Ok(SessionOutcome::NotFound);
    };
    let ended = match session.end(by, now) {
        Ok(ended) => ended,
        Err(refused) => return Ok(SessionOutcome::Refused(refused)),
    };
    let ended_at = ended.ended_at().unwrap_or(now);
    sqlx::query("UPDATE sessions SET ended_at = ? WHERE id = ?")
        .bind(micros(ended_at))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let interpreter = ended.interpreter_id;
    // An interpreter moved out of `busy` by the accounts side's compare-and-set stays where
    // they are; the session still ends and still counts.
    if let Some((desk, _)) = presence::load(&mut tx, interpreter).await?
        && let Ok(wrap_up) = desk.end_session(now)
    {
        presence::save(&mut tx, interpreter, &wrap_up).await?;
    }
    let talk = ended.duration().unwrap_or_default();
    presence::count_today(&mut tx, interpreter, now, 0, talk).await?;
    // The summary this end owes, in the same transaction (docs/jobs.md, the outbox).
    sqlx::query(
        "INSERT INTO session_summary_outbox (session_id, ended_at) VALUES (?, ?)
         ON CONFLICT DO NOTHING",
    )
    .bind(id.0)
    .bind(micros(ended_at))
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(SessionOutcome::Done(ended))
}

pub(crate) async fn rate(
    pool: &SqlitePool,
    id: SessionId,
    by: UserId,
    rating: &Rating,
    now: DateTime<Utc>,
) -> Result<SessionOutcome, StoreError> {
    let mut tx = begin_write(pool).await?;
    let Some(session) = load(&mut tx, id).await? else {
        return Ok(SessionOutcome::NotFound);
    };
    let rated = match session.rate(by, rating.clone()) {
        Ok(rated) => rated,
        Err(refused) => return Ok(SessionOutcome::Refused(refused)),
    };
    sqlx::query(
        "UPDATE sessions SET rating_stars = ?, rating_comment = ?, rated_at = ? WHERE id = ?",
    )
    .bind(i64::from(rating.stars.get()))
    .bind(rating.comment.as_deref())
    .bind(micros(now))
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(SessionOutcome::Done(rated))
}
