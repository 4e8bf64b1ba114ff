//! Offers on SQLite: the atomic claim that makes one, reads, and the helpers other transactions
//! use to find and settle pending offers.
//!
//! The claim checks the interpreter and the request in the same write transaction that inserts
//! the offer, and the unique indexes (`offers_one_pending_per_request`,
//! `offers_one_pending_per_interpreter`, `offers_request_interpreter_key`) refuse whatever slips
//! past: a plan made on a stale snapshot fails harmlessly instead of double-booking.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Explanation, Offer, OfferId, RequestEvent, RequestId};
use dragoman_ports::StoreError;
use sqlx::{SqliteConnection, SqlitePool};

use crate::rows::{self, select_offer};
use crate::{begin_write, db_error, explanations, micros, presence, requests};

/// Makes a planned offer, or returns false having written nothing.
pub(crate) async fn apply(
    pool: &SqlitePool,
    offer: &Offer,
    explanation: &Explanation,
) -> Result<bool, StoreError> {
    if !offer.is_pending() {
        return Ok(false);
    }
    let mut tx = begin_write(pool).await?;
    let Some(record) = requests::load(&mut tx, offer.request_id).await? else {
        return Ok(false);
    };
    let Ok(request) = record.request.apply(RequestEvent::Offer) else {
        return Ok(false);
    };
    let Some((interpreter, _)) = presence::load(&mut tx, offer.interpreter_id).await? else {
        return Ok(false);
    };
    let Ok(reserved) = interpreter.reserve(offer.created_at) else {
        return Ok(false);
    };
    match insert(&mut tx, offer).await {
        Ok(()) => {}
        // Another instance got there first, or the pair was offered before.
        Err(StoreError::Conflict { .. }) => return Ok(false),
        Err(e) => return Err(e),
    }
    explanations::insert(&mut tx, offer.id, explanation).await?;
    requests::save_status(&mut tx, &request, offer.created_at).await?;
    presence::save(&mut tx, offer.interpreter_id, &reserved).await?;
    sqlx::query("UPDATE interpreters SET last_offered_at = ? WHERE user_id = ?")
        .bind(micros(offer.created_at))
        .bind(offer.interpreter_id.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(true)
}

async fn insert(conn: &mut SqliteConnection, offer: &Offer) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO offers (id, request_id, interpreter_id, language, specialization, modality,
                             status, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(offer.id.0)
    .bind(offer.request_id.0)
    .bind(offer.interpreter_id.0)
    .bind(offer.need.language.as_str())
    .bind(offer.need.specialization.as_str())
    .bind(offer.need.modality.as_str())
    .bind(offer.status.as_str())
    .bind(micros(offer.created_at))
    .bind(micros(offer.expires_at))
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(crate) async fn load(
    conn: &mut SqliteConnection,
    id: OfferId,
) -> Result<Option<Offer>, StoreError> {
    sqlx::query(select_offer!("WHERE id = ?"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|row| rows::offer(&row))
        .transpose()
}

pub(crate) async fn offer(pool: &SqlitePool, id: OfferId) -> Result<Option<Offer>, StoreError> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    load(&mut conn, id).await
}

pub(crate) async fn pending(
    pool: &SqlitePool,
    interpreter: UserId,
) -> Result<Vec<Offer>, StoreError> {
    let mut conn = pool.acquire().await.map_err(db_error)?;
    Ok(pending_of_interpreter(&mut conn, interpreter)
        .await?
        .into_iter()
        .collect())
}

/// The interpreter's pending offer: at most one, by `offers_one_pending_per_interpreter`.
pub(crate) async fn pending_of_interpreter(
    conn: &mut SqliteConnection,
    interpreter: UserId,
) -> Result<Option<Offer>, StoreError> {
    sqlx::query(select_offer!(
        "WHERE interpreter_id = ? AND status = 'pending'"
    ))
    .bind(interpreter.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .map(|row| rows::offer(&row))
    .transpose()
}

/// The request's pending offer: at most one, by `offers_one_pending_per_request`.
pub(crate) async fn pending_of_request(
    conn: &mut SqliteConnection,
    request: RequestId,
) -> Result<Option<Offer>, StoreError> {
    sqlx::query(select_offer!("WHERE request_id = ? AND status = 'pending'"))
        .bind(request.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|row| rows::offer(&row))
        .transpose()
}

/// Stores the outcome of a pending offer, already decided by the domain.
pub(crate) async fn settle(
    conn: &mut SqliteConnection,
    offer: &Offer,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE offers SET status = ?, settled_at = ? WHERE id = ? AND status = 'pending'")
        .bind(offer.status.as_str())
        .bind(micros(now))
        .bind(offer.id.0)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}
