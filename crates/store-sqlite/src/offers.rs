//! The offers role on SQLite: reads, the interpreter's answer, the offer timeout, and the
//! helpers other transactions use to insert, find and settle pending offers.
//!
//! Accept opens the session, decline sends the request back to the queue. Each is one write
//! transaction that reads the offer, its request and the interpreter, applies the domain's
//! transitions to all three and writes them back, so an answer racing the offer timer either
//! wins entirely or is refused. The timeout is a column with a partial index; a sweep settles,
//! in one write transaction, everything due at `now`, so whichever instance sweeps after a
//! restart finds the work still there and nothing is settled twice.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{Offer, OfferId, RequestEvent, RequestId, Session, SessionId};
use dragoman_domain::{InterpreterStatus, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{AcceptOutcome, DeclineOutcome, ExpiredOffer};
use sqlx::SqliteConnection;

use crate::rows::{self, select_offer};
use crate::{SqliteStore, begin_write, corrupt, db_error, micros, presence, requests, sessions};

/// Inserts a new offer, in the transaction that claims it (`ClaimStore::apply_offer`): the
/// unique indexes refuse a second pending offer of the request or of the interpreter, and a
/// second offer of the same pair.
pub(crate) async fn insert(conn: &mut SqliteConnection, offer: &Offer) -> Result<(), StoreError> {
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

#[async_trait::async_trait]
impl dragoman_ports::OfferStore for SqliteStore {
    async fn offer(&self, id: OfferId) -> Result<Option<Offer>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        load(&mut conn, id).await
    }

    async fn pending_offers(&self, interpreter: UserId) -> Result<Vec<Offer>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_error)?;
        Ok(pending_of_interpreter(&mut conn, interpreter)
            .await?
            .into_iter()
            .collect())
    }

    async fn accept_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<AcceptOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let Some(offer) = load(&mut tx, id).await? else {
            return Ok(AcceptOutcome::NotFound);
        };
        if offer.interpreter_id != interpreter {
            return Ok(AcceptOutcome::NotFound);
        }
        let accepted = match offer.accept(now) {
            Ok(accepted) => accepted,
            Err(refused) => return Ok(AcceptOutcome::Refused(refused)),
        };
        let matched =
            requests::advance(&mut tx, offer.request_id, RequestEvent::Match, now).await?;
        let (desk, _) = presence::load(&mut tx, interpreter)
            .await?
            .ok_or_else(|| corrupt(format!("interpreter {interpreter} is gone")))?;
        let busy = desk.accept(now).map_err(corrupt)?;
        let session = Session::start(session_id, &matched.request, &accepted, now);
        settle(&mut tx, &accepted, now).await?;
        presence::save(&mut tx, interpreter, &busy).await?;
        sessions::insert(&mut tx, &session).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(AcceptOutcome::Accepted { session })
    }

    async fn decline_offer(
        &self,
        id: OfferId,
        interpreter: UserId,
        now: DateTime<Utc>,
    ) -> Result<DeclineOutcome, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let Some(offer) = load(&mut tx, id).await? else {
            return Ok(DeclineOutcome::NotFound);
        };
        if offer.interpreter_id != interpreter {
            return Ok(DeclineOutcome::NotFound);
        }
        let declined = match offer.decline(now) {
            Ok(declined) => declined,
            Err(refused) => return Ok(DeclineOutcome::Refused(refused)),
        };
        let request =
            requests::advance(&mut tx, offer.request_id, RequestEvent::Requeue, now).await?;
        let (desk, _) = presence::load(&mut tx, interpreter)
            .await?
            .ok_or_else(|| corrupt(format!("interpreter {interpreter} is gone")))?;
        let available = desk.decline(now).map_err(corrupt)?;
        settle(&mut tx, &declined, now).await?;
        presence::save(&mut tx, interpreter, &available).await?;
        presence::count_today(&mut tx, interpreter, now, 1, TimeDelta::zero()).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(DeclineOutcome::Declined {
            offer: declined,
            request,
        })
    }

    /// Settles every pending offer due at `now`: the request waits again and the interpreter is
    /// available again, or `away` after `max_no_answer` misses in a row.
    async fn expire_offers(
        &self,
        now: DateTime<Utc>,
        max_no_answer: u32,
    ) -> Result<Vec<ExpiredOffer>, StoreError> {
        let mut tx = begin_write(&self.writer).await?;
        let due = sqlx::query(select_offer!(
            "WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at, id"
        ))
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?
        .iter()
        .map(rows::offer)
        .collect::<Result<Vec<_>, _>>()?;
        let mut expired = Vec::with_capacity(due.len());
        for offer in due {
            let offer = offer.expire().map_err(corrupt)?;
            settle(&mut tx, &offer, now).await?;
            let request =
                requests::advance(&mut tx, offer.request_id, RequestEvent::Requeue, now).await?;
            let mut went_away = false;
            // An interpreter moved out of `reserved` by the accounts side stays where they are.
            if let Some((desk, _)) = presence::load(&mut tx, offer.interpreter_id).await?
                && let Ok(next) = desk.miss(now, max_no_answer)
            {
                went_away = next.status == InterpreterStatus::Away;
                presence::save(&mut tx, offer.interpreter_id, &next).await?;
            }
            expired.push(ExpiredOffer {
                offer,
                request,
                went_away,
            });
        }
        tx.commit().await.map_err(db_error)?;
        Ok(expired)
    }
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
