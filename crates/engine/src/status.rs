//! Interpreter status: manual changes and the `status.changed` events of system changes.

use dragoman_domain::matching::RescindReason;
use dragoman_domain::{InterpreterStatus, StatusChangeError, UserId};
use dragoman_ports::matching::{PresenceRecord, SetStatusOutcome};
use dragoman_ports::{AVAILABILITY_TTL, CachedStatus};

use std::sync::Arc;

use crate::views::StatusView;
use crate::{Engine, EngineError};

/// Interpreter status: the manual changes, the announcements of the changes the system makes,
/// and the availability cache's entries.
#[derive(Debug, Clone)]
pub struct Status {
    core: Arc<Engine>,
}

impl Status {
    pub fn new(core: Arc<Engine>) -> Self {
        Self { core }
    }

    /// `available`, `away` or `offline`, asked for by the interpreter. Leaving `reserved`
    /// rescinds the pending offer, whose request goes to the next candidate.
    pub async fn set_status(
        &self,
        interpreter: UserId,
        to: InterpreterStatus,
    ) -> Result<StatusView, EngineError> {
        let now = self.core.clock.now();
        let (presence, rescinded) = match self.core.store.set_status(interpreter, to, now).await? {
            SetStatusOutcome::NotFound => return Err(EngineError::NotFound),
            SetStatusOutcome::Refused(e @ StatusChangeError::InSession) => {
                return Err(EngineError::conflict("in-session", e));
            }
            SetStatusOutcome::Refused(e @ StatusChangeError::NoProfile) => {
                return Err(EngineError::conflict("no-profile", e));
            }
            SetStatusOutcome::Changed {
                presence,
                rescinded,
            } => (presence, rescinded),
        };
        let view = StatusView {
            status: presence.status.as_str().to_owned(),
            since: presence.since,
        };
        if let Some(offer) = rescinded {
            self.core
                .events
                .offer_rescinded(&offer, RescindReason::Cancelled, now);
            self.core.nudge(offer.need.language);
        }
        self.core.interpreter_changed(interpreter);
        self.core.events.status_changed(interpreter, &view, None);
        tracing::info!(interpreterId = %interpreter, status = presence.status.as_str(), "Interpreter status changed");
        match self.core.store.presence(interpreter).await {
            Ok(Some(record)) => self.after_status_change(&record).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not read a presence after a change"),
        }
        Ok(view)
    }

    /// The interpreter's status now.
    pub async fn status(&self, interpreter: UserId) -> Result<StatusView, EngineError> {
        let record = self
            .core
            .store
            .presence(interpreter)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(StatusView {
            status: record.presence.status.as_str().to_owned(),
            since: record.presence.since,
        })
    }

    /// Tells an interpreter the status the system just gave them, and the languages they speak
    /// that their availability changed.
    pub(crate) async fn interpreter_released(&self, interpreter: UserId) {
        match self.core.store.presence(interpreter).await {
            Ok(Some(record)) => {
                let view = StatusView {
                    status: record.presence.status.as_str().to_owned(),
                    since: record.presence.since,
                };
                let reason = record.presence.away_reason.map(|_| "missed_offers");
                self.core.interpreter_changed(interpreter);
                self.core.events.status_changed(interpreter, &view, reason);
                self.after_status_change(&record).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not read a status to announce"),
        }
    }

    /// A status change may let waiting requests of the interpreter's languages be offered, and
    /// changes those languages' availability.
    async fn after_status_change(&self, record: &PresenceRecord) {
        self.cache_status(record).await;
        for &language in &record.languages {
            self.core.nudge_if_waiting(language);
            self.core.availability_touched(language);
        }
    }

    /// Writes the interpreter's entry in the availability cache from their record. A failure is
    /// logged: the database stays the truth, and the next change or the expiry puts it right.
    async fn cache_status(&self, record: &PresenceRecord) {
        let Some(cache) = &self.core.availability else {
            return;
        };
        let entry = CachedStatus {
            status: record.presence.status.as_str().to_owned(),
            languages: record.languages.iter().map(|l| l.to_string()).collect(),
        };
        if let Err(e) = cache.put(record.user_id, &entry, AVAILABILITY_TTL).await {
            tracing::warn!(error = %e, "could not write an interpreter's cached status");
        }
    }

    /// Changes only the status of the interpreter's cached entry, keeping its languages: for
    /// the runner, which must not wait on the database for a mirror.
    pub(crate) async fn cache_status_only(&self, interpreter: UserId, status: &str) {
        let Some(cache) = &self.core.availability else {
            return;
        };
        let result = match cache.get(interpreter).await {
            Ok(Some(mut entry)) => {
                entry.status = status.to_owned();
                cache.put(interpreter, &entry, AVAILABILITY_TTL).await
            }
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not write an interpreter's cached status");
        }
    }

    /// The heartbeat: renews the cached entries of `interpreters` (this instance's connected
    /// users; entries exist for interpreters only).
    pub async fn refresh_cached_status(&self, users: &[UserId]) {
        if let Some(cache) = &self.core.availability
            && let Err(e) = cache.refresh(users, AVAILABILITY_TTL).await
        {
            tracing::warn!(error = %e, "could not renew cached statuses");
        }
    }
}
