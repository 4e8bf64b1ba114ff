//! Files (API.md "Files: pre-signed uploads"): the avatar and the documents of a session.
//!
//! The API never carries file bytes. These routes check what the client declares (type and
//! size, [`Accepts`]) and hand the rest to the files service (`dragoman_engine::files`), which
//! signs the upload URLs, counts them per user and hour (`UPLOAD_URLS_PER_HOUR`, 429 beyond),
//! schedules the removal of abandoned uploads and verifies each completed one.

mod avatar;
mod documents;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dragoman_ports::{PresignedRequest, UploadSpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::problem::Checks;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    avatar::router().merge(documents::router())
}

const MIB: i64 = 1024 * 1024;

/// What one kind of upload accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accepts {
    pub types: &'static [&'static str],
    pub max_bytes: i64,
}

pub(crate) const AVATAR: Accepts = Accepts {
    types: &["image/jpeg", "image/png"],
    max_bytes: 5 * MIB,
};

pub(crate) const DOCUMENT: Accepts = Accepts {
    types: &["application/pdf", "image/jpeg", "image/png"],
    max_bytes: 20 * MIB,
};

impl Accepts {
    /// The declared type and size, if this kind of upload accepts them; else the field errors.
    pub fn check(&self, checks: &mut Checks, content_type: &str, size_bytes: i64) -> UploadSpec {
        if !self.types.contains(&content_type) {
            checks.push(
                "content_type",
                format!("must be one of {}", self.types.join(", ")),
            );
        }
        if !(1..=self.max_bytes).contains(&size_bytes) {
            checks.push(
                "size_bytes",
                format!(
                    "must be 1 to {} bytes ({} MiB)",
                    self.max_bytes,
                    self.max_bytes / MIB
                ),
            );
        }
        UploadSpec {
            content_type: content_type.to_owned(),
            content_length: u64::try_from(size_bytes).unwrap_or(0),
        }
    }
}

/// A request the client makes itself, straight to storage.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    #[schema(example = "PUT")]
    pub method: &'static str,
    pub url: String,
    /// Send exactly these headers: they are part of the signature.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

impl From<PresignedRequest> for UploadView {
    fn from(p: PresignedRequest) -> Self {
        Self {
            method: p.method,
            url: p.url,
            headers: p.headers.into_iter().collect(),
            expires_at: p.expires_at,
        }
    }
}

/// `{upload}`: the answer to a request for an upload URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResponse {
    pub upload: UploadView,
}

/// What a client declares about the file it will upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    /// `image/jpeg` or `image/png` (documents also `application/pdf`).
    pub content_type: String,
    /// The exact length of the file in bytes.
    pub size_bytes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_and_sizes_are_checked() {
        let mut checks = Checks::default();
        AVATAR.check(&mut checks, "image/png", 5 * MIB);
        assert!(checks.done().is_ok());
        for (kind, content_type, size) in [
            (AVATAR, "application/pdf", 10),
            (AVATAR, "image/png", 5 * MIB + 1),
            (DOCUMENT, "image/png", 0),
            (DOCUMENT, "image/png", -1),
            (DOCUMENT, "text/plain", 10),
            (DOCUMENT, "image/png", i64::MAX),
        ] {
            let mut checks = Checks::default();
            kind.check(&mut checks, content_type, size);
            assert!(checks.done().is_err(), "{content_type} {size} was accepted");
        }
    }
}
