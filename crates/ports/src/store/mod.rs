//! The store: every record of accounts that must survive a restart, as role ports of ten
//! methods or fewer, one module each ([`accounts`], [`refresh_tokens`], [`interpreters`]), and
//! [`Store`], all of them at once.
//!
//! Implementations: SQLite (embedded default) and PostgreSQL (production, directly or through
//! PgBouncer). Both keep the same invariants, listed in each role's module, with constraints of
//! their own schema, so that the database holds the last line whatever the number of instances.

pub mod accounts;
pub mod interpreters;
pub mod refresh_tokens;

pub use accounts::{AccountStore, NewUser, UserRecord};
pub use interpreters::{InterpreterRecord, InterpreterStore, StatusUpdate};
pub use refresh_tokens::{NewRefreshToken, NextRefreshToken, RefreshTokenStore, RotateOutcome};

/// What can go wrong in a store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness or integrity constraint refused the write. `constraint` names it, so the
    /// delivery layer can map it to the right answer (a taken e-mail is a 409).
    #[error("constraint {constraint} refused the write")]
    Conflict { constraint: String },
    /// The record the write depends on does not exist.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or answered with an error of its own. Never shown to
    /// clients: it is logged and becomes a 500 or 503.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// Every account role at once: what the delivery layer and the engine hold
/// (`Arc<dyn Store>`). Implemented for whatever implements each role; a role's methods are
/// callable on `dyn Store` without importing the role.
pub trait Store: AccountStore + RefreshTokenStore + InterpreterStore {}

impl<T> Store for T where T: AccountStore + RefreshTokenStore + InterpreterStore + ?Sized {}
