//! Sessions: reading, ending, rating.

use dragoman_domain::UserId;
use dragoman_domain::matching::{Rating, SessionError, SessionId};
use dragoman_ports::matching::SessionOutcome;

use std::sync::Arc;

use crate::status::Status;
use crate::views::SessionView;
use crate::{Engine, EngineError};

fn refused(e: SessionError) -> EngineError {
    match e {
        SessionError::NotParticipant => EngineError::NotFound,
        SessionError::NotClient => EngineError::Forbidden("only the session's client may rate it"),
        SessionError::AlreadyEnded => EngineError::conflict("session-ended", e),
        SessionError::NotEnded => EngineError::conflict("session-open", e),
        SessionError::AlreadyRated => EngineError::conflict("session-rated", e),
    }
}

/// Sessions: reading, ending (with its summary job), rating.
#[derive(Debug, Clone)]
pub struct Sessions {
    core: Arc<Engine>,
    status: Status,
}

impl Sessions {
    pub fn new(core: Arc<Engine>) -> Self {
        Self {
            status: Status::new(core.clone()),
            core,
        }
    }

    /// The session, for its two participants and admins; `NotFound` for anyone else.
    pub async fn visible_session(
        &self,
        id: SessionId,
        viewer: UserId,
        admin: bool,
    ) -> Result<SessionView, EngineError> {
        let session = self
            .core
            .store
            .session(id)
            .await?
            .ok_or(EngineError::NotFound)?;
        if !admin && session.participant(viewer).is_none() {
            return Err(EngineError::NotFound);
        }
        Ok(SessionView::from(&session))
    }

    pub async fn sessions_of(
        &self,
        user: UserId,
        before: Option<SessionId>,
        limit: u32,
    ) -> Result<Vec<SessionView>, EngineError> {
        let sessions = self.core.store.sessions_of(user, before, limit).await?;
        Ok(sessions.iter().map(SessionView::from).collect())
    }

    pub async fn end_session(&self, id: SessionId, by: UserId) -> Result<SessionView, EngineError> {
        let now = self.core.clock.now();
        let session = match self.core.store.end_session(id, by, now).await? {
            SessionOutcome::NotFound => return Err(EngineError::NotFound),
            SessionOutcome::Refused(e) => return Err(refused(e)),
            SessionOutcome::Done(session) => session,
        };
        tracing::info!(sessionId = %id.0, endedBy = %by, durationMs = session.duration().map(|d| d.num_milliseconds()).unwrap_or(0), "Session ended");
        self.core.events.session_ended(&session, now);
        self.enqueue_summary(&session, now).await;
        self.status
            .interpreter_released(session.interpreter_id)
            .await;
        self.core.availability_touched(session.need.language);
        Ok(SessionView::from(&session))
    }

    /// Enqueues the session's summary; its key is the session's, so it is written once. A
    /// failure to enqueue is logged: the session has ended whatever happens to its summary.
    async fn enqueue_summary(
        &self,
        session: &dragoman_domain::matching::Session,
        ended_at: chrono::DateTime<chrono::Utc>,
    ) {
        let Some(jobs) = &self.core.jobs else { return };
        let summary = dragoman_ports::SessionSummary {
            session_id: session.id.0,
            language: session.need.language.to_string(),
            started_at: session.started_at,
            ended_at,
            duration_ms: (ended_at - session.started_at).num_milliseconds(),
            match_time_ms: session.match_time_ms,
        };
        let queued = match crate::summary::session_summary_job(&summary) {
            Ok(job) => jobs.enqueue(job).await.map_err(anyhow::Error::new),
            Err(e) => Err(e),
        };
        if let Err(e) = queued {
            tracing::error!(sessionId = %session.id.0, error = %e, "Enqueueing the session summary failed");
        }
    }

    pub async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: Rating,
    ) -> Result<(), EngineError> {
        let now = self.core.clock.now();
        match self.core.store.rate_session(id, by, &rating, now).await? {
            SessionOutcome::NotFound => Err(EngineError::NotFound),
            SessionOutcome::Refused(e) => Err(refused(e)),
            SessionOutcome::Done(_) => Ok(()),
        }
    }
}
