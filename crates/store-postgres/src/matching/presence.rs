//! An interpreter's presence: reading it, the manual status changes, and the list the presence
//! sweep works from (on the primary, never the replica: the sweep writes from it).
//!
//! A manual change locks the interpreter and, while they hold an offer, its request and the
//! offer. Leaving `reserved` rescinds the offer and sends its request back to the queue; the
//! domain's [`Presence::set_manually`] decides everything else (no change during a session, a
//! profile needed to become available).
//!
//! [`Presence::set_manually`]: dragoman_domain::matching::Presence::set_manually

use chrono::{DateTime, Utc};
use dragoman_domain::{InterpreterStatus, LanguageCode, UserId};
use dragoman_ports::StoreError;
use dragoman_ports::matching::{PresenceRecord, SetStatusOutcome};

use super::desk::{self, Desk, select_desk};
use super::records::{lock_offer, lock_request, pending_offer_to, save_offer, save_request};
use super::retry::{Attempt, retrying};
use super::rows::get;
use super::settle;
use crate::{PgStore, corrupt, db_error};

#[async_trait::async_trait]
impl dragoman_ports::PresenceStore for PgStore {
    async fn presence(&self, user: UserId) -> Result<Option<PresenceRecord>, StoreError> {
        let mut tx = self.read().await?;
        let row = self
            .q(select_desk!(", language_codes", "WHERE user_id = $1"))
            .bind(user.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.done().await?;
        let Some(row) = row else { return Ok(None) };
        let desk = Desk::from_row(&row)?;
        let languages = get::<Vec<String>>(&row, "language_codes")?
            .iter()
            .map(|code| LanguageCode::parse(code).map_err(corrupt))
            .collect::<Result<_, _>>()?;
        Ok(Some(PresenceRecord {
            user_id: desk.user_id,
            presence: desk.presence,
            languages,
        }))
    }

    async fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>,
    ) -> Result<SetStatusOutcome, StoreError> {
        if !matches!(
            to,
            InterpreterStatus::Available | InterpreterStatus::Away | InterpreterStatus::Offline
        ) {
            return Err(StoreError::Backend(anyhow::anyhow!(
                "{} is set by matching, not asked for",
                to.as_str()
            )));
        }
        retrying("set_status", || async move {
            let mut tx = self.begin().await?;
            let Some(mut desk) = desk::lock(self, &mut tx, user).await? else {
                tx.rollback().await.map_err(db_error)?;
                return Ok(Attempt::Done(SetStatusOutcome::NotFound));
            };
            let before = desk.presence;
            let after = match before.set_manually(to, desk.has_profile, now) {
                Ok(p) => p,
                Err(refused) => {
                    tx.rollback().await.map_err(db_error)?;
                    return Ok(Attempt::Done(SetStatusOutcome::Refused(refused)));
                }
            };
            if after == before {
                tx.commit().await.map_err(db_error)?;
                return Ok(Attempt::Done(SetStatusOutcome::Changed {
                    presence: after,
                    rescinded: None,
                }));
            }
            // The interpreter's pending offer only changes under the interpreter's lock, which
            // this transaction holds: this read is stable.
            let mut rescinded = None;
            if before.holds_offer()
                && let Some(seen) = pending_offer_to(self, &mut tx, user).await?
            {
                let request = lock_request(self, &mut tx, seen.request_id)
                    .await?
                    .ok_or_else(|| corrupt("an offer of a missing request"))?;
                let current = lock_offer(self, &mut tx, seen.id)
                    .await?
                    .ok_or_else(|| corrupt("an offer vanished"))?;
                let (offer, requeued) = settle::rescind(&current, &request, None, now)?;
                save_offer(self, &mut tx, &offer, now).await?;
                save_request(self, &mut tx, &requeued, now).await?;
                rescinded = Some(offer);
            }
            desk.presence = after;
            desk::save(self, &mut tx, &desk).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(Attempt::Done(SetStatusOutcome::Changed {
                presence: after,
                rescinded,
            }))
        })
        .await
    }

    async fn interpreters_online(&self) -> Result<Vec<dragoman_domain::UserId>, StoreError> {
        let mut tx = self.read().await?;
        let found = self
            .q("SELECT user_id FROM interpreters WHERE status IN ('available', 'away', 'reserved', 'wrap_up')")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.done().await?;
        found
            .iter()
            .map(|r| Ok(dragoman_domain::UserId(get::<uuid::Uuid>(r, "user_id")?)))
            .collect()
    }
}
