//! The sessions role: a matched request's session, its end, its rating and the wrap-up after it.
//!
//! Invariants every implementation keeps:
//! - A session ends once, by one of its participants; its interpreter goes to `wrap_up` and the
//!   talk time is counted in the same transaction.
//! - A session is rated once, by its client, after its end.
//! - The wrap-up is a column (the interpreter's `status_since`): whichever instance sweeps next
//!   makes available those whose pause is over, each once.
//! - Listings are newest first; a cursor continues exactly where the previous page stopped.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::{Rating, Session, SessionError, SessionId};

use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    NotFound,
    Refused(SessionError),
    Done(Session),
}

/// Sessions, their ratings and the wrap-up timer.
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug {
    async fn session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// The user's sessions (as client or interpreter), newest first, those older than `before`
    /// when given (a cursor).
    async fn sessions_of(
        &self,
        user: UserId,
        before: Option<SessionId>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError>;

    /// Ends the session; its interpreter goes to `wrap_up` and the talk time is counted.
    async fn end_session(
        &self,
        id: SessionId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError>;

    async fn rate_session(
        &self,
        id: SessionId,
        by: UserId,
        rating: &Rating,
        now: DateTime<Utc>,
    ) -> Result<SessionOutcome, StoreError>;

    /// Makes `available` every interpreter whose wrap-up began `wrap_up` or more before `now`.
    async fn finish_wrap_ups(
        &self,
        now: DateTime<Utc>,
        wrap_up: TimeDelta,
    ) -> Result<Vec<UserId>, StoreError>;
}
