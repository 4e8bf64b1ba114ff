//! The requests role: creation with an idempotency key, reading, cancelling, and the expiry
//! sweep of requests that waited the maximum wait.

use chrono::{DateTime, Utc};
use dragoman_domain::matching::{Offer, Request, RequestEvent, RequestId};
use dragoman_domain::{LanguageCode, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{
    CancelOutcome, CreateRequestOutcome, ExpiredRequest, IdempotencyKey, RequestRecord,
};
use sqlx::Row;
use uuid::Uuid;

use super::records::{
    lock_pending_offers_of, lock_request, lock_requests, save_offer, save_request, save_settled,
};
use super::retry::{Attempt, retrying};
use super::rows::{self, select_request};
use super::{desk, settle};
use crate::{PgStore, corrupt, db_error};

#[async_trait::async_trait]
impl dragoman_ports::RequestStore for PgStore {
    async fn create_request(
        &self,
        request: &Request,
        expires_at: DateTime<Utc>,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<CreateRequestOutcome, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(key) = idempotency {
            // Claim the key, or take it over once it is older than 24 hours. A concurrent use of the
            // same key waits here for the first one's commit and then finds it taken.
            let claimed = self
                .q("INSERT INTO idempotency_keys (client_id, key, request_id, created_at)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (client_id, key) DO UPDATE
                SET request_id = EXCLUDED.request_id, created_at = EXCLUDED.created_at, response = NULL
                WHERE idempotency_keys.created_at < $5
                RETURNING request_id")
                .bind(request.client_id.0)
                .bind(&key.key)
                .bind(request.id.0)
                .bind(request.created_at)
                .bind(key.not_before)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            if claimed.is_none() {
                let earlier = self
                    .q("SELECT request_id, response FROM idempotency_keys WHERE client_id = $1 AND key = $2")
                    .bind(request.client_id.0)
                    .bind(&key.key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                return Ok(CreateRequestOutcome::Replayed {
                    request_id: RequestId(
                        earlier.try_get::<Uuid, _>("request_id").map_err(db_error)?,
                    ),
                    response: earlier.try_get("response").map_err(db_error)?,
                });
            }
        }
        let need = &request.need;
        self
            .q("INSERT INTO requests (id, client_id, language, specialization, modality, priority, status, created_at, expires_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)")
            .bind(request.id.0)
            .bind(request.client_id.0)
            .bind(need.language.as_str())
            .bind(need.specialization.as_str())
            .bind(need.modality.as_str())
            .bind(request.priority.0)
            .bind(request.status.as_str())
            .bind(request.created_at)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(CreateRequestOutcome::Created)
    }

    async fn save_idempotent_response(
        &self,
        client: UserId,
        key: &str,
        response: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = self
            .q("UPDATE idempotency_keys SET response = $3 WHERE client_id = $1 AND key = $2")
            .bind(client.0)
            .bind(key)
            .bind(response)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn request(&self, id: RequestId) -> Result<Option<RequestRecord>, StoreError> {
        let mut tx = self.read().await?;
        let row = self
            .q(select_request!("WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.done().await?;
        row.map(|r| rows::request(&r)).transpose()
    }

    async fn cancel_request(
        &self,
        id: RequestId,
        client: UserId,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, StoreError> {
        retrying("cancel_request", || attempt_cancel(self, id, client, now)).await
    }

    async fn open_requests(&self, language: LanguageCode) -> Result<Vec<Request>, StoreError> {
        let mut tx = self.read().await?;
        let found = self
            .q(select_request!(
                "WHERE language = $1 AND status IN ('queued', 'offered')"
            ))
            .bind(language.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.done().await?;
        found
            .iter()
            .map(|r| rows::request(r).map(|rec| rec.request))
            .collect()
    }

    async fn expire_requests(&self, now: DateTime<Utc>) -> Result<Vec<ExpiredRequest>, StoreError> {
        retrying("expire_requests", || async move {
            let mut tx = self.begin().await?;
            let due = self
                .q("SELECT r.id, o.interpreter_id FROM requests r
                LEFT JOIN offers o ON o.request_id = r.id AND o.status = 'pending'
                WHERE r.status IN ('queued', 'offered') AND r.expires_at <= $1")
                .bind(now)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            if due.is_empty() {
                tx.commit().await.map_err(db_error)?;
                return Ok(Attempt::Done(Vec::new()));
            }
            let mut requests = Vec::with_capacity(due.len());
            let mut interpreters = Vec::new();
            for row in &due {
                requests.push(RequestId(row.try_get::<Uuid, _>("id").map_err(db_error)?));
                if let Some(i) = row
                    .try_get::<Option<Uuid>, _>("interpreter_id")
                    .map_err(db_error)?
                {
                    interpreters.push(UserId(i));
                }
            }
            let mut desks = desk::lock_many(self, &mut tx, &interpreters).await?;
            let mut records = lock_requests(self, &mut tx, &requests).await?;
            let pending = lock_pending_offers_of(self, &mut tx, &requests).await?;
            if pending
                .iter()
                .any(|o| !desks.contains_key(&o.interpreter_id))
            {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Stale);
            }
            let mut expired = Vec::new();
            for id in requests {
                let Some(record) = records.get_mut(&id) else {
                    continue;
                };
                if !record.request.status.is_open() || record.expires_at > now {
                    continue;
                }
                let mut current = record.clone();
                let rescinded = match pending.iter().find(|o| o.request_id == id) {
                    Some(offer) => {
                        let desk = desks.get_mut(&offer.interpreter_id);
                        let (offer, requeued) = settle::rescind(offer, &current, desk, now)?;
                        current = requeued;
                        Some(offer)
                    }
                    None => None,
                };
                current.request = current
                    .request
                    .apply(RequestEvent::Expire)
                    .map_err(corrupt)?;
                *record = current.clone();
                expired.push(ExpiredRequest {
                    request: current,
                    rescinded,
                });
            }
            let offers: Vec<Offer> = expired.iter().filter_map(|e| e.rescinded).collect();
            let requests: Vec<RequestRecord> = expired.iter().map(|e| e.request.clone()).collect();
            save_settled(self, &mut tx, &offers, &requests, &desks, now).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(expired))
        })
        .await
    }
}

async fn attempt_cancel(
    store: &PgStore,
    id: RequestId,
    client: UserId,
    now: DateTime<Utc>,
) -> Result<Attempt<CancelOutcome>, StoreError> {
    let mut tx = store.begin().await?;
    // Whom to lock first: the interpreter of the pending offer, as it is before any lock.
    let seen = store
        .q("SELECT r.client_id, o.interpreter_id FROM requests r
            LEFT JOIN offers o ON o.request_id = r.id AND o.status = 'pending'
            WHERE r.id = $1")
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
    let mine = match &seen {
        Some(row) => UserId(row.try_get::<Uuid, _>("client_id").map_err(db_error)?) == client,
        None => false,
    };
    let Some(seen) = seen.filter(|_| mine) else {
        tx.rollback().await.map_err(db_error)?;
        return Ok(Attempt::Done(CancelOutcome::NotFound));
    };
    let seen_interpreter: Option<Uuid> = seen.try_get("interpreter_id").map_err(db_error)?;
    let mut desk = match seen_interpreter {
        Some(i) => desk::lock(store, &mut tx, UserId(i)).await?,
        None => None,
    };
    let record = lock_request(store, &mut tx, id)
        .await?
        .ok_or_else(|| corrupt("a request vanished"))?;
    if !record.request.status.is_open() {
        tx.commit().await.map_err(db_error)?;
        return Ok(Attempt::Done(CancelOutcome::NotOpen(record)));
    }
    let pending = lock_pending_offers_of(store, &mut tx, &[id]).await?;
    if pending.first().map(|o| o.interpreter_id.0) != seen_interpreter {
        tx.rollback().await.map_err(db_error)?;
        return Ok(Attempt::Stale);
    }
    let mut record = record;
    let rescinded = match pending.first() {
        Some(offer) => {
            let (offer, requeued) = settle::rescind(offer, &record, desk.as_mut(), now)?;
            save_offer(store, &mut tx, &offer, now).await?;
            if let Some(desk) = &desk {
                desk::save(store, &mut tx, desk).await?;
            }
            record = requeued;
            Some(offer)
        }
        None => None,
    };
    record.request = record
        .request
        .apply(RequestEvent::Cancel)
        .map_err(corrupt)?;
    save_request(store, &mut tx, &record, now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(Attempt::Done(CancelOutcome::Cancelled {
        request: record,
        rescinded,
    }))
}
