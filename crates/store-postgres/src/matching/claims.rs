//! The claims role, matching's reads and its one write: the languages waiting, the snapshot of a
//! language, and the claim of an interpreter for a request.
//!
//! The claim is conditional twice over. Under the row locks the domain decides whether the
//! interpreter may still be reserved and the request still offered; the updates then repeat the
//! condition (`WHERE status = 'available'`, `WHERE status = 'queued'`) and the offer's insert
//! gives way to the named unique indexes (`ON CONFLICT DO NOTHING`). Whichever fails, the
//! transaction rolls back and the caller learns it lost: another instance got there first.

use chrono::{DateTime, Utc};
use dragoman_domain::matching::{
    Explanation, Offer, OfferHistory, OfferStatus, RequestEvent, Snapshot, covers,
};
use dragoman_domain::{LanguageCode, UserId};
use dragoman_ports::StoreError;
use sqlx::PgConnection;
use uuid::Uuid;

use super::desk::{self, Desk, select_desk};
use super::records::lock_request;
use super::retry::{Attempt, retrying};
use super::rows::{self, select_offer, select_request};
use crate::{PgStore, db_error, interpreters};

#[async_trait::async_trait]
impl dragoman_ports::ClaimStore for PgStore {
    async fn languages_waiting(&self) -> Result<Vec<LanguageCode>, StoreError> {
        let mut tx = self.read().await?;
        let found = self
            .q("SELECT DISTINCT language FROM requests WHERE status = 'queued' ORDER BY language")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.done().await?;
        found
            .iter()
            .map(|r| rows::language(r, "language"))
            .collect()
    }

    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError> {
        // No transaction of its own (see `PgStore::read`), and no single instant for the reads: the
        // engine keeps a language's interpreters between rounds anyway, and the claim decides under
        // the rows' locks (`apply_offer`). Each request comes with everyone it was ever offered to,
        // in the same statement, so that a request's status and its history agree.
        let mut tx = self.read().await?;
        let mut history = OfferHistory::default();
        let mut requests = Vec::new();
        for row in self
            .q(select_request!(
                ", ARRAY(SELECT o.interpreter_id FROM offers o WHERE o.request_id = requests.id) AS offered_to",
                "WHERE language = $1 AND status IN ('queued', 'offered')"
            ))
            .bind(language.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
        {
            let request = rows::request(&row)?.request;
            for interpreter in rows::get::<Vec<Uuid>>(&row, "offered_to")? {
                history.record(request.id, UserId(interpreter));
            }
            requests.push(request);
        }
        // Every interpreter listing the language: the narrow rows, then the languages of the
        // profiles this instance has not read at their current version (dragoman_ports::ProfileCache).
        let found = match only {
            // Nothing changed since the last round: no statement.
            Some([]) => Vec::new(),
            None => self
                .q(select_desk!(
                    "WHERE language_codes @> ARRAY[$1::text] AND profile_updated_at IS NOT NULL
                 ORDER BY user_id"
                ))
                .bind(language.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?,
            // By primary key: a handful of rows, not the language's index.
            Some(users) => self
                .q(select_desk!(
                    "WHERE user_id = ANY($2) AND language_codes @> ARRAY[$1::text]
                   AND profile_updated_at IS NOT NULL
                 ORDER BY user_id"
                ))
                .bind(language.as_str())
                .bind(users.iter().map(|u| u.0).collect::<Vec<Uuid>>())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?,
        };
        let mut desks = Vec::with_capacity(found.len());
        let mut versions = Vec::with_capacity(found.len());
        for row in &found {
            let d = Desk::from_row(row)?;
            versions.push((d.user_id, d.profile_version));
            desks.push(d);
        }
        let conn: &mut PgConnection = &mut tx;
        let skills = self
            .profiles
            .languages(&versions, move |users| {
                interpreters::languages_of(self, conn, users)
            })
            .await?;
        let mut interpreters = Vec::with_capacity(desks.len());
        for (d, skills) in desks.iter().zip(skills) {
            let profile = d.profile_of(skills.to_vec())?;
            interpreters.push(d.snapshot(profile, now));
        }
        let pending_offers = self
            .q(select_offer!(
                "WHERE status = 'pending'
               AND request_id IN (SELECT id FROM requests WHERE language = $1 AND status = 'offered')"
            ))
            .bind(language.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?
            .iter()
            .map(rows::offer)
            .collect::<Result<Vec<_>, _>>()?;
        tx.done().await?;
        Ok(Snapshot {
            requests,
            interpreters,
            history,
            pending_offers,
        })
    }

    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError> {
        if offer.status != OfferStatus::Pending {
            return Err(StoreError::Backend(anyhow::anyhow!(
                "only a pending offer can be made, not a {} one",
                offer.status.as_str()
            )));
        }
        // Serialized once, straight to text (not through a serde_json::Value tree): about 60 KB with
        // 380 candidates.
        let body = serde_json::to_string(explanation)
            .map_err(|e| StoreError::Backend(anyhow::Error::new(e).context("serializing")))?;
        let body = body.as_str();
        retrying("apply_offer", || async move {
            let mut tx = self.begin().await?;
            let made = claim(self, &mut tx, offer, explanation, body).await?;
            if made {
                tx.commit().await.map_err(db_error)?;
            } else {
                tx.rollback().await.map_err(db_error)?;
            }
            Ok(Attempt::Done(made))
        })
        .await
    }
}

/// The claim itself, inside the caller's transaction: true if every write was made.
async fn claim(
    store: &PgStore,
    conn: &mut PgConnection,
    offer: &Offer,
    explanation: &Explanation,
    body: &str,
) -> Result<bool, StoreError> {
    let Some(mut desk) = desk::lock(store, conn, offer.interpreter_id).await? else {
        return Ok(false);
    };
    let Ok(reserved) = desk.presence.reserve(offer.created_at) else {
        return Ok(false);
    };
    // The profile may have changed since the snapshot: the hard constraints are checked again.
    match desk.profile(store, conn).await? {
        Some(profile) if covers(&profile, &offer.need).is_ok() => {}
        _ => return Ok(false),
    }
    let Some(record) = lock_request(store, conn, offer.request_id).await? else {
        return Ok(false);
    };
    if record.request.need != offer.need || record.request.apply(RequestEvent::Offer).is_err() {
        return Ok(false);
    }
    let inserted = store
        .q("INSERT INTO offers (id, request_id, interpreter_id, language, specialization, modality, status, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)
            ON CONFLICT DO NOTHING")
        .bind(offer.id.0)
        .bind(offer.request_id.0)
        .bind(offer.interpreter_id.0)
        .bind(offer.need.language.as_str())
        .bind(offer.need.specialization.as_str())
        .bind(offer.need.modality.as_str())
        .bind(offer.created_at)
        .bind(offer.expires_at)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    if inserted.rows_affected() != 1 {
        return Ok(false);
    }
    desk.presence = reserved;
    desk.last_offered_at = Some(offer.created_at);
    // UPDATE ... WHERE status = 'available'.
    if !desk::save_claim(store, conn, &desk).await? {
        return Ok(false);
    }
    let offered = store
        .q("UPDATE requests SET status = 'offered', updated_at = $2 WHERE id = $1 AND status = 'queued'")
        .bind(offer.request_id.0)
        .bind(offer.created_at)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    if offered.rows_affected() != 1 {
        return Ok(false);
    }
    store
        .q("INSERT INTO explanations (offer_id, request_id, decided_at, body) VALUES ($1, $2, $3, $4)")
        .bind(offer.id.0)
        .bind(offer.request_id.0)
        .bind(explanation.decided_at)
        .bind(body)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(true)
}
