//! The presence role: an interpreter's live status as matching sees it (not their connections:
//! that is [`crate::PresenceRegistry`]).
//!
//! Invariants every implementation keeps:
//! - A manual change follows the domain's rules (`dragoman_domain::matching`), applied to the
//!   stored state inside one transaction, so two instances deciding at once cannot both win.
//! - An interpreter who leaves `reserved` has their pending offer rescinded and its request
//!   queued again, in the same transaction.
//! - A new interpreter's presence is the domain's `Presence::new` at their creation (`offline`,
//!   neutral counters); a user who is not an interpreter has none.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::matching::{Offer, Presence};
use dragoman_domain::{InterpreterStatus, LanguageCode, StatusChangeError, UserId};

use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetStatusOutcome {
    /// The user is not an interpreter.
    NotFound,
    Refused(StatusChangeError),
    /// Applied (or already so). An offer pending when the interpreter left is rescinded and its
    /// request waits again.
    Changed {
        presence: Presence,
        rescinded: Option<Offer>,
    },
}

/// An interpreter's live state, as the API shows it, with the languages of their profile (in
/// profile order; none without a profile): what the engine needs after a status change (whom to
/// tell, which languages to match again) in one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceRecord {
    pub user_id: UserId,
    pub presence: Presence,
    pub languages: Vec<LanguageCode>,
}

/// Interpreters' statuses: read, changed by hand, and swept.
#[async_trait]
pub trait PresenceStore: Send + Sync + std::fmt::Debug {
    async fn presence(&self, user: UserId) -> Result<Option<PresenceRecord>, StoreError>;

    /// A manual status change (`available`, `away`, `offline`) by the interpreter.
    async fn set_status(
        &self,
        user: UserId,
        to: InterpreterStatus,
        now: DateTime<Utc>,
    ) -> Result<SetStatusOutcome, StoreError>;

    /// Interpreters who count as online but not in a session: `available`, `away`, `reserved`
    /// or `wrap_up`. The presence sweep sets those without a connection `offline`.
    async fn interpreters_online(&self) -> Result<Vec<UserId>, StoreError>;
}
