//! The durable timers on SQLite: the offer timeout, the request's maximum wait and the end of a
//! wrap-up. Each is a column with a partial index; a sweep settles, in one write transaction,
//! everything due at `now`, so whichever instance sweeps after a restart finds the work still
//! there and nothing is settled twice.

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::RequestEvent;
use dragoman_domain::{InterpreterStatus, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{ExpiredOffer, ExpiredRequest, RequestRecord};
use sqlx::SqlitePool;

use crate::rows::{self, select_offer, select_request};
use crate::{begin_write, corrupt, db_error, micros, offers, presence, requests};

/// Settles every pending offer due at `now`: the request waits again and the interpreter is
/// available again, or `away` after `max_no_answer` misses in a row.
pub(crate) async fn expire_offers(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    max_no_answer: u32,
) -> Result<Vec<ExpiredOffer>, StoreError> {
    let mut tx = begin_write(pool).await?;
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
        offers::settle(&mut tx, &offer, now).await?;
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

/// Expires every open request due at `now`, rescinding its pending offer.
pub(crate) async fn expire_requests(
    pool: &SqlitePool,
    now: DateTime<Utc>,
) -> Result<Vec<ExpiredRequest>, StoreError> {
    let mut tx = begin_write(pool).await?;
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
        let rescinded = requests::rescind_pending(&mut tx, request.id, now).await?;
        requests::save_status(&mut tx, &request, now).await?;
        expired.push(ExpiredRequest {
            request: RequestRecord { request, ..record },
            rescinded,
        });
    }
    tx.commit().await.map_err(db_error)?;
    Ok(expired)
}

/// Makes available every interpreter whose wrap-up began `wrap_up` or more before `now`.
pub(crate) async fn finish_wrap_ups(
    pool: &SqlitePool,
    now: DateTime<Utc>,
    wrap_up: TimeDelta,
) -> Result<Vec<UserId>, StoreError> {
    let mut tx = begin_write(pool).await?;
    let due = sqlx::query(
        "SELECT user_id FROM interpreters WHERE status = 'wrap_up' AND status_since <= ?
         ORDER BY status_since, user_id",
    )
    .bind(micros(now - wrap_up))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| rows::user(row, "user_id"))
    .collect::<Result<Vec<_>, _>>()?;
    let mut finished = Vec::with_capacity(due.len());
    for user in due {
        if let Some((desk, _)) = presence::load(&mut tx, user).await?
            && let Ok(available) = desk.finish_wrap_up(now)
        {
            presence::save(&mut tx, user, &available).await?;
            finished.push(user);
        }
    }
    tx.commit().await.map_err(db_error)?;
    Ok(finished)
}
