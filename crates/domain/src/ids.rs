//! Identifiers. They are UUIDs (version 7, so that they sort by creation time), minted by the
//! layers that own randomness and a clock, and opaque to clients.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identifier of a user of any role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
