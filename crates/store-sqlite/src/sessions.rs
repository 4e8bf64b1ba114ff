//! The sessions role on SQLite: opening (from an accepted offer), reads, the caller's list,
//! ending, rating and the end of the wrap-up after it. The rating lives in the session's row: a
//! session has at most one, and its columns are constrained to appear only once the session has
//! ended. The wrap-up's start is the interpreter's `status_since`; one write transaction makes
//! available everyone whose pause is over.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Rating, Session, SessionId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::SessionOutcome;
use sqlx::SqliteConnection;

use crate::rows::{self, select_session};
use crate::{SqliteStore, begin_write, db_error, micros, presence};

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

#[async_trait::async_trait]
impl dragoman_ports::SessionStore for SqliteStore {
    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        load(&mut conn, id).await
    }

    /// Newest first; with a cursor, only those strictly before the cursor's session in that order.
    /// An unknown cursor yields nothing rather than starting over.
    async fn sessions_of(
        &self,
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
            .fetch_all(&self.reader)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::session)
            .collect()
    }

    /// Ends the session; the interpreter goes to `wrap_up` and the session counts as talk time of
    /// the day it ended.
    async fn end_session(
        &self,
        id: SessionId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
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

    async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
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

    /// Makes available every interpreter whose wrap-up began `wrap_up` or more before `now`.
    async fn finish_wrap_ups(
        &self,
        now: DateTime<Utc>,
        wrap_up: TimeDelta,
    ) -> Result<Vec<UserId>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let due = sqlx::query(
            "SELECT user_id FROM interpreters WHERE status = 'wrap_up' AND status_since <= ?
         ORDER BY status_since, user_id",
        )
        .bind(micros(now - wrap_up))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| rows::user(row, "user_id"))
        .collect::<Result<Vec<_>, _>>()?;
        let mut finished = Vec::with_capacity(due.len());
        for user in due {
            if let Some((desk, _)) = presence::load(&mut tx, user).await?
                && let Ok(available) = desk.finish_wrap_up(now)
            {
                presence::save(&mut tx, user, &available).await?;
                finished.push(user);
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(finished)
    }
}
