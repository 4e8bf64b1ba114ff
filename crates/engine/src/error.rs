//! What an engine operation can answer besides success, in the API's terms.

use dragoman_ports::StoreError;

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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    pub fn conflict(slug: &'static str, detail: impl std::fmt::Display) -> Self {
        EngineError::Conflict {
            slug,
            detail: detail.to_string(),
        }
    }
}
