//! The object storage port: files the app uploads and downloads itself, with short-lived signed
//! URLs, so that the API never carries their bytes.
//!
//! Embedded: files under DATA_DIR, the URLs signed (HMAC-SHA256) and served by the server itself.
//! Fleet: S3 or an S3-compatible server, the URLs presigned with SigV4.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// How long a handed-out upload or download URL stays valid (API.md: 300 s).
pub const URL_LIFETIME: Duration = Duration::from_secs(300);

/// The key of an object: `/`-separated segments of ASCII letters, digits, `.`, `_` and `-`,
/// none of them empty, `.` or `..`. Keys are built by the server (`users/{id}/avatar/{uuid}`),
/// never taken from input, and the restriction makes a key a safe relative path on any disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// A key or prefix that breaks the rules of [`ObjectKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid object key: {0}")]
pub struct InvalidKey(pub String);

impl ObjectKey {
    /// Longest key accepted (S3 allows 1024 bytes).
    pub const MAX_LEN: usize = 512;

    pub fn parse(key: &str) -> Result<Self, InvalidKey> {
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        if key.len() > Self::MAX_LEN || !key.split('/').all(valid_segment) {
            return Err(InvalidKey(key.chars().take(80).collect()));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this key lies under `prefix` (a whole segment prefix such as `assets/`).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a presigned upload binds: the uploader must send exactly this type and this many bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    pub content_type: String,
    pub content_length: u64,
}

/// A request the client makes itself: the method, the URL and exactly these headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    pub method: &'static str,
    pub url: String,
    /// Headers the client must send unchanged (they are part of the signature).
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// What storage knows of one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: ObjectKey,
    pub size: u64,
    pub content_type: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
    /// An opaque version tag (S3's ETag, a digest locally), quoted as in HTTP.
    pub etag: Option<String>,
}

/// An object read whole (small objects only: app assets, not uploads).
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub meta: ObjectMeta,
    pub bytes: Vec<u8>,
}

/// Failures of the object storage.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Key(#[from] InvalidKey),
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// Object storage: presigned uploads and downloads, and the few server-side operations the API
/// needs around them.
#[async_trait]
pub trait ObjectStorage: Send + Sync + fmt::Debug {
    /// A PUT the client performs itself within `expires_in`. The content type and the exact
    /// length are signed: another type, another length, another key, an altered signature or a
    /// late request is refused by the storage (403, or 400 for a body shorter or longer than its
    /// declared length). What it uploads is certain to be at `key` only once
    /// [`ObjectStorage::seal`] has answered `true`.
    async fn presign_put(
        &self,
        key: &ObjectKey,
        spec: &UploadSpec,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError>;

    /// A GET the client performs itself within `expires_in`. The answer says
    /// `Content-Disposition: attachment` (and the embedded storage `X-Content-Type-Options:
    /// nosniff`): a browser saves the file instead of rendering it on the storage's origin.
    async fn presign_get(
        &self,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError>;

    /// The object's size, type and version, or `None` if there is no complete object at `key`.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError>;

    /// Up to `len` first bytes of the object (to check a file's signature), or `None` if absent.
    async fn read_start(&self, key: &ObjectKey, len: u64) -> Result<Option<Vec<u8>>, ObjectError>;

    /// Reads an object whole, or `None` if absent: app assets, and uploads whose size was checked
    /// first (at most 20 MiB), to verify their content.
    async fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, ObjectError>;

    /// Stores `bytes` at `key` from the server itself (`dragoman assets put`).
    async fn put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<ObjectMeta, ObjectError>;

    /// Takes what was uploaded through `key`'s upload URL out of that URL's reach, so that what
    /// is verified next is what will be served: from now on the URL, even valid and unexpired,
    /// cannot change the object at `key` (the embedded storage refuses it with 409; S3 copies
    /// the upload from its own key, under `uploads/`, to `key`, which no upload URL names, and
    /// removes the upload). Whether an object is at `key` now; calling it again answers the
    /// same. [`ObjectStorage::delete`] undoes it: the URL may then upload again until it expires.
    async fn seal(&self, key: &ObjectKey) -> Result<bool, ObjectError>;

    /// Marks a verified upload as one to keep. S3 re-tags it `upload-state=complete`, so the
    /// bucket's lifecycle rule for abandoned uploads (objects still tagged pending after a day)
    /// no longer applies to it; the embedded storage has nothing to do.
    async fn settle(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        let _ = key;
        Ok(())
    }

    /// Removes the object, and any upload to `key` not sealed yet; removing an absent object is
    /// not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError>;

    /// Every complete object whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_safe_relative_paths() {
        assert!(ObjectKey::parse("users/0193/avatar/ab-cd.1").is_ok());
        for bad in [
            "", "/abs", "a//b", "a/../b", "..", "a/./b", "a/", "a\\b", "é", "a b", "a?b", "a%2e",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(ObjectKey::parse(&"a".repeat(513)).is_err());
    }
}
