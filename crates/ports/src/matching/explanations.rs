//! The explanations role: why each offer went to whom.
//!
//! Invariants every implementation keeps: an offer's explanation is written by
//! [`ClaimStore::apply_offer`](crate::ClaimStore::apply_offer) in the offer's own transaction, so
//! an offer never exists without one (until the retention job deletes old explanations), and a
//! request's explanations read back oldest first, as decided.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::matching::{OfferId, RequestId};

use crate::StoreError;

/// The stored explanation of one offer.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExplanation {
    pub offer_id: OfferId,
    pub decided_at: DateTime<Utc>,
    /// The serialized [`Explanation`](dragoman_domain::matching::Explanation).
    pub body: serde_json::Value,
}

/// The explanations of offers, as administrators read them.
#[async_trait]
pub trait ExplanationStore: Send + Sync + std::fmt::Debug {
    /// The explanations of a request's offers, oldest first.
    async fn explanations(&self, request: RequestId) -> Result<Vec<StoredExplanation>, StoreError>;
}
