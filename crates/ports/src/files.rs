//! The records of uploaded files: documents attached to sessions, and avatar uploads handed out
//! but not yet completed. The bytes live in object storage ([`crate::ObjectStorage`]); these
//! records say which objects exist on purpose.
//!
//! Implementations: SQLite and PostgreSQL (migration 0003), one conformance suite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_domain::UserId;
use uuid::Uuid;

use crate::StoreError;

/// Where a document's upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentStatus {
    /// An upload URL was handed out; `complete` has not verified the object yet.
    Pending,
    /// The object exists with the declared type and size.
    Ready,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "ready" => Some(Self::Ready),
            _ => None,
        }
    }
}

/// A document attached to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub id: Uuid,
    pub session_id: Uuid,
    pub uploader_id: UserId,
    /// Metadata only: never part of the object key.
    pub filename: String,
    pub content_type: String,
    pub size_bytes: u64,
    /// `sessions/{session_id}/documents/{id}`.
    pub object_key: String,
    pub status: DocumentStatus,
    pub created_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
}

/// An avatar upload handed out and not yet completed (one per user: a new one replaces it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUpload {
    pub user_id: UserId,
    /// `users/{user_id}/avatar/{uuid}`.
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
}

/// The records of uploaded files.
#[async_trait]
pub trait FileStore: Send + Sync + std::fmt::Debug {
    /// Adds a document (normally `Pending`). `NotFound` if the session or the uploader does not
    /// exist.
    async fn create_document(&self, document: &DocumentRecord) -> Result<(), StoreError>;

    /// The document `id` of session `session_id`, or `None`.
    async fn document(
        &self,
        session_id: Uuid,
        id: Uuid,
    ) -> Result<Option<DocumentRecord>, StoreError>;

    /// Pending → ready. `false` if the document is absent or was not pending.
    async fn mark_document_ready(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// A session's documents in id order (ids are UUIDv7: creation order), after `after`, at
    /// most `limit`.
    async fn documents_of_session(
        &self,
        session_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<DocumentRecord>, StoreError>;

    /// Deletes the document if it is still pending; whether it did.
    async fn delete_pending_document(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Records the user's avatar upload in progress, replacing any earlier one; returns the
    /// replaced upload's key.
    async fn put_avatar_upload(&self, upload: &AvatarUpload) -> Result<Option<String>, StoreError>;

    /// The user's avatar upload in progress.
    async fn avatar_upload(&self, user_id: UserId) -> Result<Option<AvatarUpload>, StoreError>;

    /// Makes `key` the user's avatar, if it is still their upload in progress (which it then
    /// stops being). `Ok(Some(previous))`: done, with the key of the avatar it replaces, if
    /// any; `Err(NotFound)`: `key` is not the user's upload in progress.
    async fn complete_avatar(
        &self,
        user_id: UserId,
        key: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Forgets the user's upload in progress if it is still `key`; whether it did.
    async fn drop_avatar_upload(&self, user_id: UserId, key: &str) -> Result<bool, StoreError>;
}

/// The job type that removes an upload never completed.
pub const UPLOAD_SWEEP: &str = "upload.sweep";

/// An upload handed out, as the sweep job sees it: what to check and what to remove.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum PendingUpload {
    Avatar {
        user_id: Uuid,
        key: String,
    },
    Document {
        session_id: Uuid,
        document_id: Uuid,
        key: String,
    },
}

impl PendingUpload {
    pub fn key(&self) -> &str {
        match self {
            Self::Avatar { key, .. } | Self::Document { key, .. } => key,
        }
    }

    /// The sweep job for this upload, due at `run_at`; one per object key.
    pub fn sweep_job(&self, run_at: DateTime<Utc>) -> crate::NewJob {
        crate::NewJob::new(
            UPLOAD_SWEEP,
            format!("{UPLOAD_SWEEP}:{}", self.key()),
            serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        )
        .at(run_at)
    }
}
