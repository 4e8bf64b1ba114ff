//! The durable timers: offer timeouts, request expiries and the ends of wrap-ups.
//!
//! Each sweep is one transaction. It finds what is due without locking, locks the interpreters
//! concerned, then the requests, then the offers (each set in id order), and settles what is
//! still due once locked: a row another instance settled meanwhile is simply no longer due. A
//! request that gained a pending offer between the first read and the locks would need its
//! interpreter locked out of order, so the sweep runs again instead.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Offer, RequestEvent, RequestId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{ExpiredOffer, ExpiredRequest, RequestRecord};
use sqlx::Row;
use uuid::Uuid;

use super::desk::{self, Desk, select_desk};
use super::records::{lock_pending_offers_of, lock_requests, save_offers, save_requests};
use super::retry::{Attempt, retrying};
use super::rows::{self, select_offer};
use super::settle;
use crate::{PgStore, corrupt, db_error};

pub(crate) async fn expire_offers(
    store: &PgStore,
    now: DateTime<Utc>,
    max_no_answer: u32,
) -> Result<Vec<ExpiredOffer>, StoreError> {
    retrying("expire_offers", || async move {
        let mut tx = store.begin().await?;
        let due = store
            .q(select_offer!(
                "WHERE status = 'pending' AND expires_at <= $1"
            ))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::offer)
            .collect::<Result<Vec<_>, _>>()?;
        if due.is_empty() {
            tx.commit().await.map_err(db_error)?;
            return Ok(Attempt::Done(Vec::new()));
        }
        let interpreters: Vec<UserId> = due.iter().map(|o| o.interpreter_id).collect();
        let requests: Vec<RequestId> = due.iter().map(|o| o.request_id).collect();
        let mut desks = desk::lock_many(store, &mut tx, &interpreters).await?;
        let mut records = lock_requests(store, &mut tx, &requests).await?;
        // The pending offer of each request, as it is now that the request is locked.
        let pending = lock_pending_offers_of(store, &mut tx, &requests).await?;
        let mut expired = Vec::new();
        for offer in pending {
            if offer.expires_at > now {
                continue;
            }
            if !desks.contains_key(&offer.interpreter_id) {
                // Offered, since the first read, to someone not locked here.
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Stale);
            }
            let record = records
                .get_mut(&offer.request_id)
                .ok_or_else(|| corrupt("an offer of a missing request"))?;
            let desk = desks.get_mut(&offer.interpreter_id);
            let (settled, requeued, went_away) =
                settle::expire(&offer, record, desk, now, max_no_answer)?;
            *record = requeued.clone();
            expired.push(ExpiredOffer {
                offer: settled,
                request: requeued,
                went_away,
            });
        }
        let offers: Vec<Offer> = expired.iter().map(|e| e.offer).collect();
        let requests: Vec<RequestRecord> = expired.iter().map(|e| e.request.clone()).collect();
        save_offers(store, &mut tx, &offers, now).await?;
        save_requests(store, &mut tx, &requests, now).await?;
        save_desks(
            store,
            &mut tx,
            &desks,
            offers.iter().map(|o| o.interpreter_id),
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Attempt::Done(expired))
    })
    .await
}

pub(crate) async fn expire_requests(
    store: &PgStore,
    now: DateTime<Utc>,
) -> Result<Vec<ExpiredRequest>, StoreError> {
    retrying("expire_requests", || async move {
        let mut tx = store.begin().await?;
        let due = store
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
        let mut desks = desk::lock_many(store, &mut tx, &interpreters).await?;
        let mut records = lock_requests(store, &mut tx, &requests).await?;
        let pending = lock_pending_offers_of(store, &mut tx, &requests).await?;
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
        save_offers(store, &mut tx, &offers, now).await?;
        save_requests(store, &mut tx, &requests, now).await?;
        save_desks(
            store,
            &mut tx,
            &desks,
            offers.iter().map(|o| o.interpreter_id),
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Attempt::Done(expired))
    })
    .await
}

pub(crate) async fn finish_wrap_ups(
    store: &PgStore,
    now: DateTime<Utc>,
    wrap_up: TimeDelta,
) -> Result<Vec<UserId>, StoreError> {
    retrying("finish_wrap_ups", || async move {
        let mut tx = store.begin().await?;
        // The condition is checked again on each row once it is locked.
        let due = store
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
        desk::save_many(store, &mut tx, &finished.iter().collect::<Vec<_>>()).await?;
        let finished = finished.iter().map(|d| d.user_id).collect();
        tx.commit().await.map_err(db_error)?;
        Ok(Attempt::Done(finished))
    })
    .await
}

/// Writes back the desks of `changed` (each once), in one statement.
async fn save_desks(
    store: &PgStore,
    conn: &mut sqlx::PgConnection,
    desks: &HashMap<UserId, Desk>,
    changed: impl Iterator<Item = UserId>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let changed: Vec<&Desk> = changed
        .filter(|id| seen.insert(*id))
        .filter_map(|id| desks.get(&id))
        .collect();
    desk::save_many(store, conn, &changed).await
}
