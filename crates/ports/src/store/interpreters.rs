//! The interpreters role: an interpreter's profile and the status the accounts side sets.
//!
//! Invariants every implementation keeps:
//! - A profile is replaced whole, and the statement that replaces it raises its version, which
//!   the [`ProfileCache`](crate::ProfileCache) of matching's snapshots relies on.
//! - A status changes by compare-and-set ([`StatusUpdate`]): of two instances deciding at once,
//!   one wins.
//! - Only interpreters have a profile and a status: for anyone else `put_profile` is `NotFound`
//!   and `interpreter` is `None`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::{InterpreterStatus, Profile, UserId};

use crate::StoreError;

/// An interpreter's profile and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterRecord {
    pub user_id: UserId,
    pub profile: Option<Profile>,
    pub status: InterpreterStatus,
    pub status_since: DateTime<Utc>,
}

/// A compare-and-set of an interpreter's status: it applies only if the status is still `from`,
/// so two instances deciding at once cannot both win.
#[derive(Debug, Clone, Copy)]
pub struct StatusUpdate {
    pub from: InterpreterStatus,
    pub to: InterpreterStatus,
    pub at: DateTime<Utc>,
}

/// Interpreters' profiles and statuses.
#[async_trait]
pub trait InterpreterStore: Send + Sync + std::fmt::Debug {
    /// Replaces an interpreter's profile. `NotFound` if the user is not an interpreter.
    async fn put_profile(
        &self,
        user_id: UserId,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<InterpreterRecord, StoreError>;

    async fn interpreter(&self, user_id: UserId) -> Result<Option<InterpreterRecord>, StoreError>;

    /// Applies the update if the status is still `update.from`; returns whether it applied.
    async fn update_status(
        &self,
        user_id: UserId,
        update: StatusUpdate,
    ) -> Result<bool, StoreError>;
}
