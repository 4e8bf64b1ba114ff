//! Receiving a signed upload: verified before the first byte is read, streamed to a temporary
//! file with its length enforced as it streams (never held whole in memory), and renamed into
//! place only when exactly the signed number of bytes has arrived.

use std::fmt;

use bytes::Bytes;
use dragoman_ports::ObjectKey;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::{LocalObjects, SignedRequest};

/// Why an upload or download request was refused; each maps to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 403: expired, altered, or signed for another key, type or length.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 411: no `Content-Length` (a signed upload has an exact length).
    #[error("Content-Length is required")]
    LengthRequired,
    /// 400: the body is longer or shorter than its signed length.
    #[error("the body has {received} bytes or more, not the {declared} signed")]
    LengthMismatch { declared: u64, received: u64 },
    /// 409: the upload at this key was completed: its URL may no longer replace it.
    #[error("this upload was completed: its URL can no longer replace it")]
    Sealed,
    /// 404: a signed download of an object that does not exist (any longer).
    #[error("no such object")]
    NotFound,
    /// 400: the body stopped arriving (the client went away).
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// 500.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

impl From<dragoman_ports::ObjectError> for Refusal {
    fn from(e: dragoman_ports::ObjectError) -> Self {
        Refusal::Backend(e.into())
    }
}

/// Whether `value` may be sent as an HTTP header value (visible ASCII and spaces).
pub(crate) fn is_header_value(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// The parts of an upload request that its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct UploadRequest<'a> {
    pub key: &'a str,
    pub expires: i64,
    pub signature: &'a str,
    pub content_type: Option<&'a str>,
    pub content_length: Option<&'a str>,
}

impl LocalObjects {
    /// Receives a signed PUT of `/objects/{key}`. Nothing of the body is read before the
    /// signature verifies; nothing is visible at the key unless the whole body arrived.
    pub async fn receive_upload<S, E>(
        &self,
        request: UploadRequest<'_>,
        body: S,
    ) -> Result<(), Refusal>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: fmt::Display,
    {
        let length = request
            .content_length
            .ok_or(Refusal::LengthRequired)?
            .parse::<u64>()
            .map_err(|_| Refusal::Forbidden("the signature does not match"))?;
        let content_type = request.content_type.unwrap_or("");
        self.authorize(
            &SignedRequest {
                method: "PUT",
                key: request.key,
                expires: request.expires,
                content_type: Some(content_type),
                content_length: Some(length),
            },
            request.signature,
        )?;
        // A key that verified was signed by us, so it parses; refuse it anyway if not.
        let key = ObjectKey::parse(request.key)
            .map_err(|_| Refusal::Forbidden("the signature does not match"))?;
        // Refused before the body is read; checked again when it is placed.
        if self.is_sealed(&key).await? {
            return Err(Refusal::Sealed);
        }
        self.store_stream(&key, content_type, length, body, true)
            .await
    }

    /// Streams `body` into a temporary file, refusing it as soon as it exceeds `length`, and
    /// renames it to `key` only if it has exactly `length` bytes (and, for an upload through a
    /// URL, only if `key` is not sealed by then).
    pub(crate) async fn store_stream<S, E>(
        &self,
        key: &ObjectKey,
        content_type: &str,
        length: u64,
        body: S,
        through_url: bool,
    ) -> Result<(), Refusal>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: fmt::Display,
    {
        let tmp = self.tmp_dir().join(uuid::Uuid::new_v4().to_string());
        let result = self
            .write_then_rename(&tmp, key, content_type, length, body, through_url)
            .await;
        if result.is_err() {
            // Best effort: a leftover is removed by the sweep of stale temporaries.
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn write_then_rename<S, E>(
        &self,
        tmp: &std::path::Path,
        key: &ObjectKey,
        content_type: &str,
        length: u64,
        body: S,
        through_url: bool,
    ) -> Result<(), Refusal>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: fmt::Display,
    {
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(anyhow::Error::from)?;
        let mut received: u64 = 0;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Refusal::Interrupted(e.to_string()))?;
            received = received.saturating_add(chunk.len() as u64);
            if received > length {
                return Err(Refusal::LengthMismatch {
                    declared: length,
                    received,
                });
            }
            file.write_all(&chunk).await.map_err(anyhow::Error::from)?;
        }
        if received != length {
            return Err(Refusal::LengthMismatch {
                declared: length,
                received,
            });
        }
        file.sync_all().await.map_err(anyhow::Error::from)?;
        drop(file);
        let data = self.data_path(key);
        let meta = self.meta_path(key);
        for path in [&data, &meta] {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(anyhow::Error::from)?;
            }
        }
        // The type first, then the data: the rename of the data is the moment the object
        // appears, and by then its type is in place. Under the lock a seal takes, so that a
        // sealed key is never replaced.
        let _placing = self.inner.placing.lock().await;
        if through_url && self.is_sealed(key).await? {
            return Err(Refusal::Sealed);
        }
        let meta_tmp = tmp.with_extension("type");
        tokio::fs::write(&meta_tmp, content_type)
            .await
            .map_err(anyhow::Error::from)?;
        tokio::fs::rename(&meta_tmp, &meta)
            .await
            .map_err(anyhow::Error::from)?;
        tokio::fs::rename(tmp, &data)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(())
    }
}
