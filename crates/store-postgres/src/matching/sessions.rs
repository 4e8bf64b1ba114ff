//! The sessions role: reading, listing, ending and rating, and the sweep of finished wrap-ups.
//!
//! Ending locks the interpreter, then the session: the interpreter goes to `wrap_up` and the
//! session's length is counted as talk time of the day it ended. Rating locks the session only.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Rating, Session, SessionId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::SessionOutcome;
use sqlx::PgConnection;

use super::desk::{self, Desk, select_desk};
use super::retry::{Attempt, retrying};
use super::rows::{self, select_session};
use crate::{PgStore, db_error};

async fn read(
    store: &PgStore,
    conn: &mut PgConnection,
    id: SessionId,
    lock: bool,
) -> Result<Option<Session>, StoreError> {
    let sql = if lock {
        select_session!("WHERE id = $1 FOR UPDATE")
    } else {
        select_session!("WHERE id = $1")
    };
    store
        .q(sql)
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|r| rows::session(&r))
        .transpose()
}

#[async_trait::async_trait]
impl dragoman_ports::SessionStore for PgStore {
    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let mut tx = self.begin().await?;
        let found = read(self, &mut tx, id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }

    async fn sessions_of(
        &self,
        user: UserId,
        before: Option<SessionId>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        // A list to read, not to decide on: the replica's, once it has the caller's writes.
        // Newest first by start, then id; the cursor is the last session of the previous page.
        let found = self
            .read_routed(move |tx| {
                Box::pin(async move {
                    tx.q(select_session!(
                        "WHERE (client_id = $1 OR interpreter_id = $1)
                       AND ($2::uuid IS NULL
                            OR (started_at, id) < (SELECT started_at, id FROM sessions WHERE id = $2))
                     ORDER BY started_at DESC, id DESC
                     LIMIT $3"
                    ))
                        .bind(user.0)
                        .bind(before.map(|b| b.0))
                        .bind(i64::from(limit))
                        .fetch_all(&mut **tx)
                        .await
                })
            })
            .await?;
        found.iter().map(rows::session).collect()
    }

    async fn end_session(
        &self,
        id: SessionId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        retrying("end_session", || async move {
            let mut tx = self.begin().await?;
            // A session's interpreter never changes: reading it unlocked is safe.
            let Some(seen) = read(self, &mut tx, id, false).await? else {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Done(SessionOutcome::NotFound));
            };
            let mut desk = desk::lock(self, &mut tx, seen.interpreter_id).await?;
            let Some(current) = read(self, &mut tx, id, true).await? else {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Done(SessionOutcome::NotFound));
            };
            let ended = match current.end(by, now) {
                Ok(s) => s,
                Err(refused) => {
                    tx.rollback().await.map_err(db_error)?;
                    return Ok(Attempt::Done(SessionOutcome::Refused(refused)));
                }
            };
            self.q("UPDATE sessions SET ended_at = $2 WHERE id = $1")
                .bind(id.0)
                .bind(ended.ended_at())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            if let Some(desk) = desk.as_mut() {
                // An interpreter moved out of `busy` by another path keeps their status.
                if let Ok(presence) = desk.presence.end_session(now) {
                    desk.presence = presence;
                }
                desk.count_talk_time(now, ended.duration().unwrap_or_default());
                desk::save(self, &mut tx, desk).await?;
            }
            // The summary this end owes, in the same transaction (docs/jobs.md, the outbox).
            self.q(
                "INSERT INTO session_summary_outbox (session_id, ended_at) VALUES ($1, $2)
                ON CONFLICT DO NOTHING",
            )
            .bind(id.0)
            .bind(ended.ended_at().unwrap_or(now))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(SessionOutcome::Done(ended)))
        })
        .await
    }

    async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError> {
        retrying("rate_session", || async move {
            let mut tx = self.begin().await?;
            let Some(current) = read(self, &mut tx, id, true).await? else {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Done(SessionOutcome::NotFound));
            };
            let rated = match current.rate(by, rating.clone()) {
                Ok(s) => s,
                Err(refused) => {
                    tx.rollback().await.map_err(db_error)?;
                    return Ok(Attempt::Done(SessionOutcome::Refused(refused)));
                }
            };
            self
                .q("UPDATE sessions SET rating_stars = $2, rating_comment = $3, rated_at = $4 WHERE id = $1")
                .bind(id.0)
                .bind(i16::from(rating.stars.get()))
                .bind(rating.comment.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(SessionOutcome::Done(rated)))
        })
        .await
    }

    async fn finish_wrap_ups(
        &self,
        now: DateTime<Utc>,
        wrap_up: TimeDelta,
    ) -> Result<Vec<UserId>, StoreError> {
        retrying("finish_wrap_ups", || async move {
            let mut tx = self.begin().await?;
            // The condition is checked again on each row once it is locked.
            let due = self
                .q(select_desk!(
                    "WHERE status = 'wrap_up' AND status_since <= $1 ORDER BY user_id FOR UPDATE"
                ))
                .bind(now - wrap_up)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            let mut finished = Vec::with_capacity(due.len());
            for row in &due {
                let mut desk = Desk::from_row(row)?;
                let Ok(presence) = desk.presence.finish_wrap_up(now) else {
                    continue;
                };
                desk.presence = presence;
                finished.push(desk);
            }
            desk::save_many(self, &mut tx, &finished.iter().collect::<Vec<_>>()).await?;
            let finished = finished.iter().map(|d| d.user_id).collect();
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(finished))
        })
        .await
    }
}
