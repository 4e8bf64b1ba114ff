//! An interpreter's answer to an offer, on SQLite: accept opens the session, decline sends the
//! request back to the queue. Each is one write transaction that reads the offer, its request
//! and the interpreter, applies the domain's transitions to all three and writes them back, so
//! an answer racing the offer timer either wins entirely or is refused.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{OfferId, RequestEvent, Session, SessionId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome};
use sqlx::SqlitePool;

use crate::{begin_write, corrupt, db_error, offers, presence, requests, sessions};

pub(crate) async fn accept(
    pool: &SqlitePool,
    id: OfferId,
    interpreter: UserId,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<AcceptOutcome, StoreError> {
    let mut tx = begin_write(pool).await?;
    let Some(offer) = offers::load(&mut tx, id).await? else {
        return Ok(AcceptOutcome::NotFound);
    };
    if offer.interpreter_id != interpreter {
        return Ok(AcceptOutcome::NotFound);
    }
    let accepted = match offer.accept(now) {
        Ok(accepted) => accepted,
        Err(refused) => return Ok(AcceptOutcome::Refused(refused)),
    };
    let matched = requests::advance(&mut tx, offer.request_id, RequestEvent::Match, now).await?;
    let (desk, _) = presence::load(&mut tx, interpreter)
        .await?
        .ok_or_else(|| corrupt(format!("interpreter {interpreter} is gone")))?;
    let busy = desk.accept(now).map_err(corrupt)?;
    let session = Session::start(session_id, &matched.request, &accepted, now);
    offers::settle(&mut tx, &accepted, now).await?;
    presence::save(&mut tx, interpreter, &busy).await?;
    sessions::insert(&mut tx, &session).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(AcceptOutcome::Accepted { session })
}

pub(crate) async fn decline(
    pool: &SqlitePool,
    id: OfferId,
    interpreter: UserId,
    now: DateTime<Utc>,
) -> Result<DeclineOutcome, StoreError> {
    let mut tx = begin_write(pool).await?;
    let Some(offer) = offers::load(&mut tx, id).await? else {
        return Ok(DeclineOutcome::NotFound);
    };
    if offer.interpreter_id != interpreter {
        return Ok(DeclineOutcome::NotFound);
    }
    let declined = match offer.decline(now) {
        Ok(declined) => declined,
        Err(refused) => return Ok(DeclineOutcome::Refused(refused)),
    };
    let request = requests::advance(&mut tx, offer.request_id, RequestEvent::Requeue, now).await?;
    let (desk, _) = presence::load(&mut tx, interpreter)
        .await?
        .ok_or_else(|| corrupt(format!("interpreter {interpreter} is gone")))?;
    let available = desk.decline(now).map_err(corrupt)?;
    offers::settle(&mut tx, &declined, now).await?;
    presence::save(&mut tx, interpreter, &available).await?;
    presence::count_today(&mut tx, interpreter, now, 1, TimeDelta::zero()).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(DeclineOutcome::Declined {
        offer: declined,
        request,
    })
}
