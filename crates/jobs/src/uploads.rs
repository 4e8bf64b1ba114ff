//! Abandoned uploads: every upload URL handed out schedules one of these jobs, due when the
//! upload counts as abandoned (24 h by default). If by then the upload was completed, the job
//! does nothing; otherwise it removes the object, if any arrived, and the record of the upload.
//!
//! Idempotent: removing an absent object or record changes nothing, so a second run is
//! harmless. In S3 the bucket's lifecycle rule (objects still tagged `upload-state=pending`
//! after a day) is the backstop for a deployment without a job queue.

use std::sync::Arc;

use dragoman_domain::UserId;
use dragoman_ports::{
    Delivery, DocumentStatus, FileStore, ObjectKey, ObjectStorage, PendingUpload, Store,
    UPLOAD_SWEEP,
};

use crate::{Handler, Policy};

/// Removes an upload that was never completed.
#[derive(Debug)]
pub struct UploadSweepHandler {
    files: Arc<dyn FileStore>,
    users: Arc<dyn Store>,
    objects: Arc<dyn ObjectStorage>,
}

impl UploadSweepHandler {
    pub fn new(
        files: Arc<dyn FileStore>,
        users: Arc<dyn Store>,
        objects: Arc<dyn ObjectStorage>,
    ) -> Self {
        Self {
            files,
            users,
            objects,
        }
    }

    /// Removes the upload if it is still abandoned; whether it removed anything.
    pub async fn sweep(&self, upload: &PendingUpload) -> anyhow::Result<bool> {
        let key = ObjectKey::parse(upload.key())?;
        match upload {
            PendingUpload::Document {
                session_id,
                document_id,
                ..
            } => {
                let record = self.files.document(*session_id, *document_id).await?;
                if record.is_some_and(|d| d.status == DocumentStatus::Ready) {
                    return Ok(false);
                }
                // The object first: should this fail, the record is still there for the retry.
                self.objects.delete(&key).await?;
                self.files.delete_pending_document(*document_id).await?;
                Ok(true)
            }
            PendingUpload::Avatar { user_id, key: raw } => {
                let user_id = UserId(*user_id);
                let current = self.users.user(user_id).await?.and_then(|u| u.avatar_key);
                if current.as_deref() == Some(raw.as_str()) {
                    return Ok(false);
                }
                self.objects.delete(&key).await?;
                self.files.drop_avatar_upload(user_id, raw).await?;
                Ok(true)
            }
        }
    }
}

#[async_trait::async_trait]
impl Handler for UploadSweepHandler {
    fn kind(&self) -> &str {
        UPLOAD_SWEEP
    }

    fn policy(&self) -> Policy {
        Policy {
            concurrency: 4,
            ..Policy::default()
        }
    }

    async fn run(&self, job: &Delivery) -> anyhow::Result<()> {
        let upload: PendingUpload = serde_json::from_value(job.payload.clone())
            .map_err(|e| anyhow::anyhow!("payload is not a pending upload: {e}"))?;
        if self.sweep(&upload).await? {
            tracing::info!(key = upload.key(), "Abandoned upload removed");
        }
        Ok(())
    }
}
