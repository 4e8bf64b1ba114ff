//! Dragoman's domain: the values and rules of interpreting on demand, as pure code.
//!
//! This crate performs no I/O, reads no clock and draws no randomness: every instant and every
//! identifier it needs is handed to it. That is what lets the rules be tested exhaustively and
//! reused unchanged by every adapter and delivery layer above it. The compiler enforces the
//! boundary: nothing here depends on tokio, sqlx or any network crate.

pub mod account;
pub mod ids;
pub mod interpreter;
pub mod language;
pub mod matching;
pub mod text;

pub use account::{DisplayName, Email, Password, Role, SignupRole, User};
pub use ids::UserId;
pub use interpreter::{
    InterpreterStatus, LanguageSkill, Level, Modality, ModalitySet, Profile, Specialization,
    SpecializationSet, StatusChangeError,
};
pub use language::LanguageCode;
pub use matching::{
    Explanation, Matcher, MatchingConfig, Need, Offer, OfferId, OfferStatus, Plan, Presence,
    Priority, Request, RequestId, RequestStatus, Session, SessionId, Snapshot, Strategy,
};
pub use text::has_bidi_control;

/// Why a value offered from outside was refused. The message is written for the caller: it
/// names the field and says what would be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The name of the field, as the API spells it.
    pub field: &'static str,
    /// What is wrong, in words a client developer can act on.
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
