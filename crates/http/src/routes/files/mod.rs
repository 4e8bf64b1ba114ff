//! Files (API.md "Files: pre-signed uploads"): the avatar and the documents of a session.
//!
//! The API never carries file bytes. It checks what the client declares (type and size), hands
//! out a URL signed for exactly that type and length under a key built from ids only, and on
//! `complete` seals the upload (its URL can no longer change it) and then checks what storage
//! holds: present, the declared size and type, and a whole, well-formed file of that type
//! ([`content`]). Every upload handed out also schedules its own removal, which does nothing if
//! it was completed in time. Upload URLs are counted per user and hour
//! (`UPLOAD_URLS_PER_HOUR`, 429 beyond).

mod avatar;
mod content;
mod documents;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dragoman_domain::{User, UserId};
use dragoman_ports::objects::URL_LIFETIME;
use dragoman_ports::{
    ObjectError, ObjectKey, ObjectStorage, PendingUpload, PresignedRequest, UploadSpec,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::problem::{ApiError, Checks};
use crate::state::{AppState, FilesState};

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

impl From<ObjectError> for ApiError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::Key(e) => ApiError::Internal(e.into()),
            ObjectError::Backend(e) => ApiError::Unavailable(e.context("object storage")),
        }
    }
}

/// A key built by the server from ids only.
pub(crate) fn key(raw: String) -> Result<ObjectKey, ApiError> {
    ObjectKey::parse(&raw).map_err(|e| ApiError::Internal(e.into()))
}

/// The window upload URLs are counted in (`UPLOAD_URLS_PER_HOUR`).
const UPLOAD_URL_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Counts one upload URL handed to `user`; 429 with `Retry-After` once they have had
/// `UPLOAD_URLS_PER_HOUR` in the current hour. Called once the request is known to be valid, so
/// only URLs actually handed out are counted. On Redis the count is shared by the fleet.
pub(crate) async fn count_upload_url(state: &AppState, user: UserId) -> Result<(), ApiError> {
    let key = format!("upload-urls:{user}");
    let limit = state.files.upload_urls_per_hour;
    // Counted and checked in one step, so concurrent requests cannot all pass the limit.
    match state
        .limiter
        .reserve(&key, limit, UPLOAD_URL_WINDOW)
        .await?
    {
        Some(retry_after) => Err(ApiError::RateLimited { retry_after }),
        None => Ok(()),
    }
}

/// Signs the upload URL and schedules the upload's removal should it never be completed.
pub(crate) async fn hand_out(
    state: &AppState,
    key: &ObjectKey,
    spec: &UploadSpec,
    pending: PendingUpload,
) -> Result<UploadView, ApiError> {
    let files = &state.files;
    let upload = files.objects.presign_put(key, spec, URL_LIFETIME).await?;
    if let Some(jobs) = &files.jobs {
        let run_at = state.clock.now()
            + chrono::TimeDelta::from_std(files.abandon_after)
                .map_err(|e| ApiError::Internal(e.into()))?;
        jobs.enqueue(pending.sweep_job(run_at))
            .await
            .map_err(|e| ApiError::Unavailable(anyhow::anyhow!(e).context("the job queue")))?;
    }
    Ok(upload.into())
}

/// Why a completed upload is not accepted.
#[derive(Debug)]
pub(crate) enum Unverified {
    Missing,
    Wrong(String),
}

/// Seals the upload at `key` (from now on its URL cannot change it), then checks that storage
/// holds there exactly what was declared, and if so settles it. An object that is there but
/// wrong is removed: nothing unverified stays visible.
pub(crate) async fn verify(
    objects: &dyn ObjectStorage,
    key: &ObjectKey,
    content_type: &str,
    size: u64,
) -> Result<Result<(), Unverified>, ApiError> {
    // Sealed before it is read: what is verified is what will be served.
    if !objects.seal(key).await? {
        return Ok(Err(Unverified::Missing));
    }
    let Some(meta) = objects.head(key).await? else {
        return Ok(Err(Unverified::Missing));
    };
    let wrong = if meta.size != size {
        Some(format!(
            "the object has {} bytes, not the {size} declared",
            meta.size
        ))
    } else if meta
        .content_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case(content_type))
    {
        Some(format!("the object is not of type {content_type}"))
    } else {
        // The size was just checked against the declared one (at most 20 MiB).
        let Some(verdict) = content::check_object(objects, key, content_type).await? else {
            return Ok(Err(Unverified::Missing));
        };
        verdict.err().map(|why| format!("the file is {why}"))
    };
    match wrong {
        None => {
            // Kept from now on: in S3, the lifecycle rule for abandoned uploads stops applying.
            objects.settle(key).await?;
            Ok(Ok(()))
        }
        Some(why) => {
            objects.delete(key).await?;
            Ok(Err(Unverified::Wrong(why)))
        }
    }
}

impl Unverified {
    pub fn into_conflict(self) -> ApiError {
        match self {
            Unverified::Missing => {
                ApiError::conflict("upload-missing", "nothing has been uploaded to the URL yet")
            }
            Unverified::Wrong(why) => ApiError::conflict(
                "upload-invalid",
                format!("{why}; it was removed: upload the file again"),
            ),
        }
    }
}

/// A download URL for `key`, valid 300 s, or `None` if storage cannot sign one now (the rest of
/// the answer is still worth sending).
pub(crate) async fn download_url(objects: &dyn ObjectStorage, key: &str) -> Option<String> {
    let key = ObjectKey::parse(key).ok()?;
    match objects.presign_get(&key, URL_LIFETIME).await {
        Ok(request) => Some(request.url),
        Err(e) => {
            tracing::warn!(error = %e, "could not sign a download URL");
            None
        }
    }
}

/// The user's avatar as a signed download URL, or `None` without one.
pub async fn avatar_url(files: &FilesState, user: &User) -> Option<String> {
    download_url(files.objects.as_ref(), user.avatar_key.as_deref()?).await
}

/// Removes an object no record refers to any more; a failure is logged (the sweep or the
/// lifecycle rule catches what is left).
pub(crate) async fn discard(objects: &dyn ObjectStorage, key: &str) {
    let Ok(key) = ObjectKey::parse(key) else {
        return;
    };
    if let Err(e) = objects.delete(&key).await {
        tracing::warn!(key = %key, error = %e, "could not remove an object no longer used");
    }
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
