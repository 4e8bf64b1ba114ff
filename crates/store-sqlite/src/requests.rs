//! The requests role on SQLite: creation under an idempotency key, reads, cancellation, the
//! maximum wait (a column with a partial index, swept in one write transaction), and the one
//! helper every other transaction uses to move a request through its life cycle.

use chrono::{DateTime, Utc};
use dragoman_domain::matching::{Offer, Request, RequestEvent, RequestId};
use dragoman_domain::{LanguageCode, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{
    CancelOutcome, CreateRequestOutcome, ExpiredRequest, IdempotencyKey, RequestRecord,
};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::rows::{self, get, select_request};
use crate::{SqliteStore, begin_write, corrupt, db_error, micros, offers, presence};

#[async_trait::async_trait]
impl dragoman_ports::RequestStore for SqliteStore {
    /// Stores a new request, or replays the earlier use of its idempotency key. The key is checked
    /// before the one-open-request rule, so a retry of a creation that succeeded is a replay, not a
    /// conflict; a creation refused by that rule rolls back and leaves no key behind.
    async fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreateRequestOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        if let Some(key) = idempotency {
            // Forgetting this client's stale keys first makes a stale key new, and keeps the table
            // at most a day of keys per client.
            sqlx::query("DELETE FROM idempotency_keys WHERE client_id = ? AND created_at < ?")
                .bind(request.client_id.0)
                .bind(micros(key.not_before))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let earlier = sqlx::query(
                "SELECT request_id, response FROM idempotency_keys WHERE client_id = ? AND key = ?",
            )
            .bind(request.client_id.0)
            .bind(&key.key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            if let Some(row) = earlier {
                let replayed = CreateRequestOutcome::Replayed {
                    request_id: RequestId(get::<Uuid>(&row, "request_id")?),
                    response: get(&row, "response")?,
                };
                tx.commit().await.map_err(db_error)?;
                return Ok(replayed);
            }
        }
        sqlx::query(
            "INSERT INTO requests (id, client_id, language, specialization, modality, priority, status,
                               created_at, expires_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(request.id.0)
        .bind(request.client_id.0)
        .bind(request.need.language.as_str())
        .bind(request.need.specialization.as_str())
        .bind(request.need.modality.as_str())
        .bind(i64::from(request.priority.0))
        .bind(request.status.as_str())
        .bind(micros(request.created_at))
        .bind(micros(expires_at))
        .bind(micros(request.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(key) = idempotency {
            sqlx::query(
                "INSERT INTO idempotency_keys (client_id, key, request_id, created_at) VALUES (?, ?, ?, ?)",
            )
            .bind(request.client_id.0)
            .bind(&key.key)
            .bind(request.id.0)
            .bind(micros(request.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(CreateRequestOutcome::Created)
    }

    async fn save_idempotent_response(
        &self,
        client: UserId,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE idempotency_keys SET response = ? WHERE client_id = ? AND key = ?")
                .bind(response)
                .bind(client.0)
                .bind(key)
                .execute(&self.writer)
                .await
                .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        load(&mut conn, id).await
    }

    async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let Some(record) = load(&mut tx, id).await? else {
            return Ok(CancelOutcome::NotFound);
        };
        if record.request.client_id != client {
            return Ok(CancelOutcome::NotFound);
        }
        let Ok(cancelled) = record.request.apply(RequestEvent::Cancel) else {
            return Ok(CancelOutcome::NotOpen(record));
        };
        let rescinded = rescind_pending(&mut tx, id, now).await?;
        save_status(&mut tx, &cancelled, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(CancelOutcome::Cancelled {
            request: RequestRecord {
                request: cancelled,
                ..record
            },
            rescinded,
        })
    }

    async fn open_requests(&self, language: LanguageCode) -> Result<Vec<Request>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        open_of(&mut conn, language).await
    }

    /// Expires every open request due at `now`, rescinding its pending offer.
    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredRequest>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let due = sqlx::query(select_request!(
            "WHERE r.status IN ('queued', 'offered') AND r.expires_at <= ? ORDER BY r.expires_at, r.id"
        ))
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(rows::request)
        .collect::<Result<Vec<_>, _>>()?;
        let mut expired = Vec::with_capacity(due.len());
        for record in due {
            let request = record
                .request
                .apply(RequestEvent::Expire)
                .map_err(corrupt)?;
            let rescinded = rescind_pending(&mut tx, request.id, now).await?;
            save_status(&mut tx, &request, now).await?;
            expired.push(ExpiredRequest {
                request: RequestRecord { request, ..record },
                rescinded,
            });
        }
        tx.commit().await.map_err(db_error)?;
        Ok(expired)
    }
}

pub(crate) async fn load(
    conn: &mut SqliteConnection,
    id: RequestId,
) -> Result<Option<RequestRecord>, StoreError> {
    sqlx::query(select_request!("WHERE r.id = ?"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|row| rows::request(&row))
        .transpose()
}

/// Moves a request through its life cycle by the domain's table and stores the result. A move
/// the table refuses here means the rows disagree with each other (say, a pending offer of a
/// request that is not `offered`): that is corruption, not a client error.
pub(crate) async fn advance(
    conn: &mut SqliteConnection,
    id: RequestId,
    event: RequestEvent,
    now: DateTime<Utc>,
) -> Result<RequestRecord, StoreError> {
    let record = load(conn, id)
        .await?
        .ok_or_else(|| corrupt(format!("request {id} is gone")))?;
    let request = record.request.apply(event).map_err(corrupt)?;
    save_status(conn, &request, now).await?;
    Ok(RequestRecord { request, ..record })
}

pub(crate) async fn save_status(
    conn: &mut SqliteConnection,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE requests SET status = ?, updated_at = ? WHERE id = ?")
        .bind(request.status.as_str())
        .bind(micros(now))
        .bind(request.id.0)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// The open requests of a language (also the snapshot's).
pub(crate) async fn open_of(
    conn: &mut SqliteConnection,
    language: LanguageCode,
) -> Result<Vec<Request>, StoreError> {
    sqlx::query(select_request!(
        "WHERE r.language = ? AND r.status IN ('queued', 'offered')"
    ))
    .bind(language.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| rows::request(row).map(|r| r.request))
    .collect()
}

/// Rescinds the request's pending offer, if any, and releases its interpreter; the caller moves
/// the request itself.
pub(crate) async fn rescind_pending(
    conn: &mut SqliteConnection,
    id: RequestId,
    now: DateTime<Utc>,
) -> Result<Option<Offer>, StoreError> {
    let Some(offer) = offers::pending_of_request(conn, id).await? else {
        return Ok(None);
    };
    let offer = offer.rescind().map_err(corrupt)?;
    offers::settle(conn, &offer, now).await?;
    presence::release(conn, offer.interpreter_id, now).await?;
    Ok(Some(offer))
}
