//! Offers and the interpreter's answers to them.
//!
//! An answer locks the interpreter, the request and the offer in that order, then lets the
//! domain decide: an offer that is no longer pending, or answered at or after its deadline, is
//! refused and nothing changes. An acceptance opens the session in the same transaction; the
//! unique indexes on sessions stand behind it.

use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Offer, OfferId, RequestEvent, Session, SessionId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome, RequestRecord};
use sqlx::PgConnection;

use super::desk::{self, Desk};
use super::records::{lock_offer, lock_request, read_offer, save_offer, save_request};
use super::retry::{Attempt, retrying};
use super::rows::{self, select_offer};
use crate::{PgStore, corrupt, db_error};

pub(crate) async fn offer(store: &PgStore, id: OfferId) -> Result<Option<Offer>, StoreError> {
    let mut tx = store.begin().await?;
    let found = read_offer(store, &mut tx, id).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(found)
}

pub(crate) async fn pending_offers(
    store: &PgStore,
    interpreter: UserId,
) -> Result<Vec<Offer>, StoreError> {
    let mut tx = store.begin().await?;
    let found = store
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

pub(crate) async fn accept_offer(
    store: &PgStore,
    id: OfferId,
    interpreter: UserId,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<AcceptOutcome, StoreError> {
    retrying("accept_offer", || async move {
        let mut tx = store.begin().await?;
        let Some((mut desk, mut request, offer)) =
            lock_answer(store, &mut tx, id, interpreter).await?
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
        store
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
        save_offer(store, &mut tx, &accepted, now).await?;
        save_request(store, &mut tx, &request, now).await?;
        desk::save(store, &mut tx, &desk).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Attempt::Done(AcceptOutcome::Accepted { session }))
    })
    .await
}

pub(crate) async fn decline_offer(
    store: &PgStore,
    id: OfferId,
    interpreter: UserId,
    now: DateTime<Utc>,
) -> Result<DeclineOutcome, StoreError> {
    retrying("decline_offer", || async move {
        let mut tx = store.begin().await?;
        let Some((mut desk, mut request, offer)) =
            lock_answer(store, &mut tx, id, interpreter).await?
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
        save_offer(store, &mut tx, &declined, now).await?;
        save_request(store, &mut tx, &request, now).await?;
        desk::save(store, &mut tx, &desk).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Attempt::Done(DeclineOutcome::Declined {
            offer: declined,
            request,
        }))
    })
    .await
}
