//! The offers role: offers, the interpreter's answers to them, and the sweep of unanswered ones.
//!
//! An answer locks the interpreter, the request and the offer in that order, then lets the
//! domain decide: an offer that is no longer pending, or answered at or after its deadline, is
//! refused and nothing changes. An acceptance opens the session in the same transaction; the
//! unique indexes on sessions stand behind it.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Offer, OfferId, RequestEvent, RequestId, Session, SessionId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome, ExpiredOffer, RequestRecord};
use sqlx::PgConnection;

use super::desk::{self, Desk};
use super::records::{
    lock_offer, lock_pending_offers_of, lock_request, lock_requests, read_offer, save_offer,
    save_request, save_settled,
};
use super::retry::{Attempt, retrying};
use super::rows::{self, select_offer};
use super::settle;
use crate::{PgStore, corrupt, db_error};

#[async_trait::async_trait]
impl dragoman_ports::OfferStore for PgStore {
    async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError> {
        let mut tx = self.begin().await?;
        let found = read_offer(self, &mut tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(found)
    }

    async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<Offer>, StoreError> {
        let mut tx = self.begin().await?;
        let found = self
            .q(select_offer!(
                "WHERE interpreter_id = $1 AND status = 'pending' ORDER BY created_at, id"
            ))
            .bind(interpreter.0)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        found.iter().map(rows::offer).collect()
    }

    async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<AcceptOutcome, StoreError> {
        retrying("accept_offer", || async move {
            let mut tx = self.begin().await?;
            let Some((mut desk, mut request, offer)) =
                lock_answer(self, &mut tx, id, interpreter).await?
            else {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Done(AcceptOutcome::NotFound));
            };
            let accepted = match offer.accept(now) {
                Ok(o) => o,
                Err(refused) => {
                    tx.rollback().await.map_err(db_error)?;
                    return Ok(Attempt::Done(AcceptOutcome::Refused(refused)));
                }
            };
            request.request = request
                .request
                .apply(RequestEvent::Match)
                .map_err(corrupt)?;
            request.session_id = Some(session_id);
            desk.presence = desk.presence.accept(now).map_err(corrupt)?;
            let session = Session::start(session_id, &request.request, &accepted, now);
            let need = &session.need;
            self
                .q("INSERT INTO sessions (id, request_id, client_id, interpreter_id, language, specialization, modality, started_at, match_time_ms)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                .bind(session.id.0)
                .bind(session.request_id.0)
                .bind(session.client_id.0)
                .bind(session.interpreter_id.0)
                .bind(need.language.as_str())
                .bind(need.specialization.as_str())
                .bind(need.modality.as_str())
                .bind(session.started_at)
                .bind(session.match_time_ms)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            save_offer(self, &mut tx, &accepted, now).await?;
            save_request(self, &mut tx, &request, now).await?;
            desk::save(self, &mut tx, &desk).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(AcceptOutcome::Accepted { session }))
        })
        .await
    }

    async fn decline_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError> {
        retrying("decline_offer", || async move {
            let mut tx = self.begin().await?;
            let Some((mut desk, mut request, offer)) =
                lock_answer(self, &mut tx, id, interpreter).await?
            else {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Done(DeclineOutcome::NotFound));
            };
            let declined = match offer.decline(now) {
                Ok(o) => o,
                Err(refused) => {
                    tx.rollback().await.map_err(db_error)?;
                    return Ok(Attempt::Done(DeclineOutcome::Refused(refused)));
                }
            };
            request.request = request
                .request
                .apply(RequestEvent::Requeue)
                .map_err(corrupt)?;
            desk.presence = desk.presence.decline(now).map_err(corrupt)?;
            desk.count_decline(now);
            save_offer(self, &mut tx, &declined, now).await?;
            save_request(self, &mut tx, &request, now).await?;
            desk::save(self, &mut tx, &desk).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(DeclineOutcome::Declined {
                offer: declined,
                request,
            }))
        })
        .await
    }

    async fn expire_offers(
        &self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Vec<ExpiredOffer>, StoreError> {
        retrying("expire_offers", || async move {
            let mut tx = self.begin().await?;
            let due = self
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
            let mut desks = desk::lock_many(self, &mut tx, &interpreters).await?;
            let mut records = lock_requests(self, &mut tx, &requests).await?;
            // The pending offer of each request, as it is now that the request is locked.
            let pending = lock_pending_offers_of(self, &mut tx, &requests).await?;
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
            save_settled(self, &mut tx, &offers, &requests, &desks, now).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(expired))
        })
        .await
    }
}

/// The interpreter's desk, the offer's request and the offer, locked in that order; `None` if
/// the offer is unknown or made to someone else.
async fn lock_answer(
    store: &PgStore,
    conn: &mut PgConnection,
    id: OfferId,
    interpreter: UserId,
) -> Result<Option<(Desk, RequestRecord, Offer)>, StoreError> {
    // An offer's interpreter and request never change: reading them unlocked is safe.
    let Some(seen) = read_offer(store, conn, id).await? else {
        return Ok(None);
    };
    if seen.interpreter_id != interpreter {
        return Ok(None);
    }
    let desk = desk::lock(store, conn, interpreter)
        .await?
        .ok_or_else(|| corrupt("an offer to someone who is not an interpreter"))?;
    let request = lock_request(store, conn, seen.request_id)
        .await?
        .ok_or_else(|| corrupt("an offer of a missing request"))?;
    let offer = lock_offer(store, conn, id)
        .await?
        .ok_or_else(|| corrupt("an offer vanished"))?;
    Ok(Some((desk, request, offer)))
}
