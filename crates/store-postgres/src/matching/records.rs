//! Locking, reading and writing back request and offer rows inside a transaction.
//!
//! Lock order is interpreters, then requests, then offers, each set in id order (see
//! [`super::desk`]). The pending offer of a request only changes while the request row is
//! locked, and the pending offer of an interpreter only while the interpreter row is locked:
//! reads made after those locks are stable until commit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Offer, OfferId, RequestId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::RequestRecord;
use sqlx::PgConnection;
use uuid::Uuid;

use super::rows::{self, select_offer, select_request};
use crate::{PgStore, db_error};

pub(crate) async fn lock_request(
    store: &PgStore,
    conn: &mut PgConnection,
    id: RequestId,
) -> Result<Option<RequestRecord>, StoreError> {
    store
        .q(select_request!("WHERE id = $1 FOR UPDATE"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|r| rows::request(&r))
        .transpose()
}

/// Locks the rows of `ids` in id order.
pub(crate) async fn lock_requests(
    store: &PgStore,
    conn: &mut PgConnection,
    ids: &[RequestId],
) -> Result<HashMap<RequestId, RequestRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = ids.iter().map(|r| r.0).collect();
    store
        .q(select_request!("WHERE id = ANY($1) ORDER BY id FOR UPDATE"))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(|r| rows::request(r).map(|rec| (rec.request.id, rec)))
        .collect()
}

pub(crate) async fn lock_offer(
    store: &PgStore,
    conn: &mut PgConnection,
    id: OfferId,
) -> Result<Option<Offer>, StoreError> {
    store
        .q(select_offer!("WHERE id = $1 FOR UPDATE"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|r| rows::offer(&r))
        .transpose()
}

/// Locks the pending offers of `requests` in id order.
pub(crate) async fn lock_pending_offers_of(
    store: &PgStore,
    conn: &mut PgConnection,
    requests: &[RequestId],
) -> Result<Vec<Offer>, StoreError> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = requests.iter().map(|r| r.0).collect();
    store
        .q(select_offer!(
            "WHERE request_id = ANY($1) AND status = 'pending' ORDER BY id FOR UPDATE"
        ))
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?
        .iter()
        .map(rows::offer)
        .collect()
}

/// The pending offer of an interpreter, unlocked: stable while the interpreter row is locked.
pub(crate) async fn pending_offer_to(
    store: &PgStore,
    conn: &mut PgConnection,
    interpreter: UserId,
) -> Result<Option<Offer>, StoreError> {
    store
        .q(select_offer!(
            "WHERE interpreter_id = $1 AND status = 'pending'"
        ))
        .bind(interpreter.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|r| rows::offer(&r))
        .transpose()
}

/// Reads an offer without locking it.
pub(crate) async fn read_offer(
    store: &PgStore,
    conn: &mut PgConnection,
    id: OfferId,
) -> Result<Option<Offer>, StoreError> {
    store
        .q(select_offer!("WHERE id = $1"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?
        .map(|r| rows::offer(&r))
        .transpose()
}

/// Writes back a request's status and session (its row must be locked by this transaction).
pub(crate) async fn save_request(
    store: &PgStore,
    conn: &mut PgConnection,
    record: &RequestRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store
        .q("UPDATE requests SET status = $2, session_id = $3, updated_at = $4 WHERE id = $1")
        .bind(record.request.id.0)
        .bind(record.request.status.as_str())
        .bind(record.session_id.map(|s| s.0))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Writes back a settled offer's status (its row must be locked by this transaction).
pub(crate) async fn save_offer(
    store: &PgStore,
    conn: &mut PgConnection,
    offer: &Offer,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    store
        .q("UPDATE offers SET status = $2, settled_at = $3 WHERE id = $1")
        .bind(offer.id.0)
        .bind(offer.status.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Writes back settled offers' statuses in one statement (their rows must be locked).
pub(crate) async fn save_offers(
    store: &PgStore,
    conn: &mut PgConnection,
    offers: &[Offer],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if offers.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = offers.iter().map(|o| o.id.0).collect();
    let statuses: Vec<&str> = offers.iter().map(|o| o.status.as_str()).collect();
    store
        .q("UPDATE offers o SET status = u.status, settled_at = $3
            FROM unnest($1::uuid[], $2::text[]) AS u(id, status) WHERE o.id = u.id")
        .bind(ids)
        .bind(statuses)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Writes back requests' statuses and sessions in one statement (their rows must be locked).
pub(crate) async fn save_requests(
    store: &PgStore,
    conn: &mut PgConnection,
    records: &[RequestRecord],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = records.iter().map(|r| r.request.id.0).collect();
    let statuses: Vec<&str> = records.iter().map(|r| r.request.status.as_str()).collect();
    let sessions: Vec<Option<Uuid>> = records.iter().map(|r| r.session_id.map(|s| s.0)).collect();
    store
        .q(
            "UPDATE requests r SET status = u.status, session_id = u.session_id, updated_at = $4
            FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS u(id, status, session_id)
            WHERE r.id = u.id",
        )
        .bind(ids)
        .bind(statuses)
        .bind(sessions)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Writes back what a timer settled in one transaction: the offers, their requests, and the
/// desks of the offers' interpreters (all locked by the caller).
pub(crate) async fn save_settled(
    store: &PgStore,
    conn: &mut PgConnection,
    offers: &[Offer],
    requests: &[RequestRecord],
    desks: &std::collections::HashMap<UserId, super::desk::Desk>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    save_offers(store, conn, offers, now).await?;
    save_requests(store, conn, requests, now).await?;
    super::desk::save_desks(store, conn, desks, offers.iter().map(|o| o.interpreter_id)).await
}
