//! Profiles: what an interpreter can be offered, and the status they set by hand.
//!
//! Replacing a profile tells the matching core itself (its rosters read the interpreter again and
//! the languages with a waiting request get a round); setting a status starts the presence grace
//! period of an interpreter who has not connected yet. Neither is left to the caller.

use std::sync::Arc;
use std::time::Duration;

use dragoman_domain::{InterpreterStatus, Profile, UserId};
use dragoman_ports::{InterpreterRecord, PresenceRegistry, Store};

use crate::status::Status;
use crate::views::StatusView;
use crate::{Engine, EngineError};

/// The profile and manual-status use-cases.
#[derive(Debug)]
pub struct Profiles {
    /// The profile rows.
    store: Arc<dyn Store>,
    /// Who counts as connected: a manual status other than offline starts the grace period.
    presence: Arc<dyn PresenceRegistry>,
    /// How long an interpreter counts as present without a connection (`PRESENCE_GRACE`).
    presence_grace: Duration,
    /// The matching core: its view of interpreters, and the status changes it drives.
    matching: Arc<Engine>,
    /// The status use-cases of the matching core.
    status: Status,
}

impl Profiles {
    pub fn new(
        store: Arc<dyn Store>,
        presence: Arc<dyn PresenceRegistry>,
        presence_grace: Duration,
        matching: Arc<Engine>,
    ) -> Self {
        Self {
            store,
            presence,
            presence_grace,
            status: Status::new(matching.clone()),
            matching,
        }
    }

    /// Replaces `interpreter`'s profile and returns it as saved; matching sees it from its next
    /// round on.
    pub async fn replace(
        &self,
        interpreter: UserId,
        profile: &Profile,
    ) -> Result<Profile, EngineError> {
        let saved = self
            .store
            .put_profile(interpreter, profile, self.matching.clock.now())
            .await?;
        let profile = saved
            .profile
            .ok_or_else(|| anyhow::anyhow!("a saved profile reads back empty"))?;
        let languages: Vec<_> = profile.languages().iter().map(|l| l.code).collect();
        self.matching.profile_changed(interpreter, &languages);
        Ok(profile)
    }

    /// `interpreter`'s profile and status; `NotFound` for a user who is not an interpreter.
    pub async fn of(&self, interpreter: UserId) -> Result<InterpreterRecord, EngineError> {
        self.store
            .interpreter(interpreter)
            .await?
            .ok_or(EngineError::NotFound)
    }

    /// `available`, `away` or `offline`, asked for by the interpreter (see
    /// [`Status::set_status`]). Any but `offline` starts the presence grace period now, for an
    /// interpreter who has not connected yet.
    pub async fn set_status(
        &self,
        interpreter: UserId,
        to: InterpreterStatus,
    ) -> Result<StatusView, EngineError> {
        let view = self.status.set_status(interpreter, to).await?;
        if to != InterpreterStatus::Offline
            && let Err(e) = self
                .presence
                .touch(&[interpreter], self.presence_grace)
                .await
        {
            tracing::warn!(error = %e, "could not mark an interpreter present");
        }
        Ok(view)
    }
}
