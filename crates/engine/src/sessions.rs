//! Sessions: reading, ending, rating.

use dragoman_domain::UserId;
use dragoman_domain::matching::{Rating, SessionError, SessionId};
use dragoman_ports::matching::SessionOutcome;

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

impl Engine {
    /// The session, for its two participants and admins; `NotFound` for anyone else.
    pub async fn visible_session(
        &self,
        id: SessionId,
        viewer: UserId,
        admin: bool,
    ) -> Result<SessionView, EngineError> {
        let session = self.store.session(id).await?.ok_or(EngineError::NotFound)?;
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
        let sessions = self.store.sessions_of(user, before, limit).await?;
        Ok(sessions.iter().map(SessionView::from).collect())
    }

    pub async fn end_session(&self, id: SessionId, by: UserId) -> Result<SessionView, EngineError> {
        let now = self.clock.now();
        let session = match self.store.end_session(id, by, now).await? {
            SessionOutcome::NotFound => return Err(EngineError::NotFound),
            SessionOutcome::Refused(e) => return Err(refused(e)),
            SessionOutcome::Done(session) => session,
        };
        tracing::info!(sessionId = %id.0, endedBy = %by, durationMs = session.duration().map(|d| d.num_milliseconds()).unwrap_or(0), "Session ended");
        self.session_ended(&session, now);
        self.interpreter_released(session.interpreter_id).await;
        self.availability_touched(session.need.language);
        Ok(SessionView::from(&session))
    }

    pub async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: Rating,
    ) -> Result<(), EngineError> {
        let now = self.clock.now();
        match self.store.rate_session(id, by, &rating, now).await? {
            SessionOutcome::NotFound => Err(EngineError::NotFound),
            SessionOutcome::Refused(e) => Err(refused(e)),
            SessionOutcome::Done(_) => Ok(()),
        }
    }
}
