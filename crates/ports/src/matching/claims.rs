//! The claims role: what a matching round decides from, and the offer it makes.
//!
//! Invariants every implementation keeps:
//! - [`ClaimStore::apply_offer`] is all or nothing: the interpreter goes from `available` to
//!   `reserved`, the request from `queued` to `offered`, and the offer and its explanation are
//!   stored, or nothing is written and it answers false.
//! - Two instances planning at once cannot both claim: the schema's unique indexes hold the last
//!   line, `offers_one_pending_per_request` and `offers_one_pending_per_interpreter`, and
//!   `offers_request_interpreter_key` (an interpreter is never offered the same request twice).
//! - A snapshot is consistent with itself, and one read with `only` holds exactly what the whole
//!   snapshot holds for those interpreters: a matcher may keep a language's interpreters in memory
//!   and read again only the ones that changed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::matching::{Explanation, Offer, Snapshot};
use dragoman_domain::{LanguageCode, UserId};

use crate::StoreError;

/// The matching round's reads and its atomic claim.
#[async_trait]
pub trait ClaimStore: Send + Sync + std::fmt::Debug {
    /// Languages with at least one `queued` request.
    async fn languages_waiting(&self) -> Result<Vec<LanguageCode>, StoreError>;

    /// What matching needs for one language: its open requests, every interpreter with a
    /// profile listing the language (whatever the status; counters of "today" are those of
    /// `now`'s UTC day), and the offer history of those requests.
    ///
    /// With `only`, the interpreters are those among `only` whose profile lists the language, in
    /// the same order; the rest is whole. A matcher that keeps a language's interpreters in
    /// memory reads again only the ones that changed.
    async fn snapshot(
        &self,
        language: LanguageCode,
        now: DateTime<Utc>,
        only: Option<&[UserId]>,
    ) -> Result<Snapshot, StoreError>;

    /// Makes a planned offer atomically: the interpreter goes from `available` to `reserved`,
    /// the request from `queued` to `offered`, the offer and its explanation are stored. Returns
    /// false, writing nothing, if the interpreter is no longer available, the request no longer
    /// queued, or a constraint refuses (another instance got there first).
    async fn apply_offer(
        &self,
        offer: &Offer,
        explanation: &Explanation,
    ) -> Result<bool, StoreError>;
}
