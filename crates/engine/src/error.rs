//! What an application service can answer besides success, in the API's terms.

use std::time::Duration;

use dragoman_ports::{ObjectError, StoreError};

use crate::accounts::PasswordError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Unknown, or not visible to the caller.
    #[error("not found")]
    NotFound,
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The state forbids it now. `slug` names the kind for clients.
    #[error("{detail}")]
    Conflict { slug: &'static str, detail: String },
    /// The credentials presented (a refresh token, an account) do not sign anyone in.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A login's e-mail or password is wrong: one answer for both.
    #[error("the e-mail address or the password is wrong")]
    BadCredentials,
    /// Too many attempts of this kind from this caller; they may try again after `retry_after`.
    #[error("too many attempts; try again in {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// Every password hashing slot stayed busy for the whole queue time.
    #[error("too many password checks at once; try again in {retry_after:?}")]
    Overloaded { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dependency (object storage, the job queue) did not answer; the client may retry.
    #[error(transparent)]
    Unavailable(anyhow::Error),
    /// Our fault (a dependency that failed, a record that cannot be as it reads): logged, never
    /// shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl EngineError {
    pub fn conflict(slug: &'static str, detail: impl std::fmt::Display) -> Self {
        EngineError::Conflict {
            slug,
            detail: detail.to_string(),
        }
    }
}

impl From<PasswordError> for EngineError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Overloaded { retry_after } => EngineError::Overloaded { retry_after },
            PasswordError::Failed(e) => EngineError::Internal(e),
        }
    }
}

impl From<ObjectError> for EngineError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::Key(e) => EngineError::Internal(e.into()),
            ObjectError::Backend(e) => EngineError::Unavailable(e.context("object storage")),
        }
    }
}
