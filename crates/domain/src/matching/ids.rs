//! Identifiers of the matching records: requests, offers and sessions.
//!
//! Like [`crate::UserId`] they are UUIDs minted outside this crate (version 7, so that they sort
//! by creation time). Each record has its own type so that an offer id can never be passed where
//! a request id is expected: the compiler checks that across every layer that handles them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares an identifier newtype over a UUID, serialized as the bare UUID string.
macro_rules! record_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

record_id!(
    /// A client's request for an interpreter.
    RequestId
);
record_id!(
    /// One proposal of one request to one interpreter.
    OfferId
);
record_id!(
    /// An interpretation session, born from an accepted offer.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_and_order_as_their_uuid() {
        let a = RequestId(Uuid::from_u128(1));
        let b = RequestId::from(Uuid::from_u128(2));
        assert!(a < b);
        assert_eq!(a.to_string(), Uuid::from_u128(1).to_string());
        assert_eq!(
            OfferId(Uuid::from_u128(7)).to_string(),
            SessionId(Uuid::from_u128(7)).to_string()
        );
    }
}
