//! The statistics role: loads, recent activity, match times and status counts.
//!
//! Invariants every implementation keeps: these reads decide nothing and write nothing, so an
//! implementation may serve them from a read replica, provided a caller sees every write
//! committed before it asked (read-your-writes); a language with no interpreter and no open
//! request counts zero everywhere.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::{InterpreterStatus, LanguageCode};

use crate::StoreError;

/// How loaded one language is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageLoad {
    pub language: LanguageCode,
    /// Interpreters with the language who are `available`.
    pub available: u32,
    /// Interpreters with the language who are online: available, reserved, busy or wrap-up.
    pub online: u32,
    /// Open requests (queued or offered) of the language.
    pub waiting: u32,
}

/// Recent history of one language, for the wait estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecentActivity {
    /// Mean length of sessions that ended in the period; `None` if none did.
    pub mean_session: Option<TimeDelta>,
    /// Offers made in the period, and how many of them were accepted.
    pub offers_made: u32,
    pub offers_accepted: u32,
}

/// Interpreters per status and language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub language: LanguageCode,
    pub status: InterpreterStatus,
    pub count: u32,
}

/// What wait estimates, announcements and the administrators' overview read.
#[async_trait]
pub trait StatsStore: Send + Sync + std::fmt::Debug {
    /// Every language with an interpreter or an open request.
    async fn language_loads(&self) -> Result<Vec<LanguageLoad>, StoreError>;

    /// The load of one language (zeros when it has no interpreter and no open request): what
    /// one wait estimate reads, through the language's indexes rather than over every language.
    async fn language_load(&self, language: LanguageCode) -> Result<LanguageLoad, StoreError>;

    async fn recent_activity(
        &self,
        language: LanguageCode,
        since: DateTime<Utc>,
    ) -> Result<RecentActivity, StoreError>;

    /// Match times (ms) of sessions started at or after `since`, with their language.
    async fn match_times(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(LanguageCode, i64)>, StoreError>;

    async fn status_counts(&self) -> Result<Vec<StatusCount>, StoreError>;
}
