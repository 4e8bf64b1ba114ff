//! Files (API.md "Files: pre-signed uploads"): the avatar and the documents of a session.
//!
//! No file byte passes through here. An upload URL is signed for exactly the declared type and
//! length under a key built from ids only, counted against the user's hourly allowance
//! (`UPLOAD_URLS_PER_HOUR`), and schedules its own removal, which does nothing if the upload was
//! completed in time. `complete` seals the upload (its URL can no longer change it) and then
//! checks what storage holds: present, the declared size and type, and a whole, well-formed file
//! of that type ([`content`]).
//!
//! A session's documents are for its two participants only, from its start until
//! [`OPEN_AFTER_END`] after it ends: then every document use-case answers 409
//! `documents-closed`. The records and objects stay (for retention and support).

mod content;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_domain::UserId;
use dragoman_domain::matching::SessionId;
use dragoman_ports::objects::URL_LIFETIME;
use dragoman_ports::{
    AttemptLimiter, AvatarUpload, Clock, DocumentRecord, DocumentStatus, FileStore, JobQueue,
    MatchingStore, ObjectKey, ObjectStorage, PendingUpload, PresignedRequest, Store, StoreError,
    StoredObject, UploadSpec,
};
use uuid::Uuid;

use crate::EngineError;
use crate::accounts::{Account, download_url};

/// How long after its end a session's documents can still be uploaded, listed and downloaded.
pub const OPEN_AFTER_END: TimeDelta = TimeDelta::hours(1);

/// The window upload URLs are counted in (`UPLOAD_URLS_PER_HOUR`).
const UPLOAD_URL_WINDOW: Duration = Duration::from_secs(3600);

/// The files' limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct FileSettings {
    /// An upload not completed within this is removed.
    pub abandon_after: Duration,
    /// Documents a session may have, pending ones included (`DOCUMENTS_PER_SESSION`): bounds
    /// what one participant can store on one session.
    pub documents_per_session: u32,
    /// Upload URLs one user may be handed per hour (`UPLOAD_URLS_PER_HOUR`), counted by the
    /// attempt limiter (on Redis across the fleet): each URL is a record, a job and up to 20 MiB.
    pub upload_urls_per_hour: u32,
}

/// A document with its download URL (signed for 300 s once it is ready).
#[derive(Debug)]
pub struct Document {
    pub record: DocumentRecord,
    pub download_url: Option<String>,
}

/// A page of a session's documents, oldest first.
#[derive(Debug)]
pub struct DocumentPage {
    pub items: Vec<Document>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<Uuid>,
}

/// A document to upload, as its uploader declares it (validated by the caller).
#[derive(Debug)]
pub struct NewDocument {
    pub filename: String,
    pub spec: UploadSpec,
}

/// The file use-cases.
#[derive(Debug)]
pub struct Files {
    objects: Arc<dyn ObjectStorage>,
    /// The records of uploads and documents.
    records: Arc<dyn FileStore>,
    /// The users whose avatar changes.
    users: Arc<dyn Store>,
    /// The sessions whose participants may reach their documents.
    sessions: Arc<dyn MatchingStore>,
    /// Where each upload's removal is scheduled; `None` (only where a test builds it without a
    /// queue): abandoned uploads are left to the bucket's lifecycle rule.
    jobs: Option<Arc<dyn JobQueue>>,
    /// Counts the upload URLs handed out.
    limiter: Arc<dyn AttemptLimiter>,
    clock: Arc<dyn Clock>,
    settings: FileSettings,
}

impl Files {
    #[allow(clippy::too_many_arguments)] // one per port it holds, named at the one call site
    pub fn new(
        objects: Arc<dyn ObjectStorage>,
        records: Arc<dyn FileStore>,
        users: Arc<dyn Store>,
        sessions: Arc<dyn MatchingStore>,
        jobs: Option<Arc<dyn JobQueue>>,
        limiter: Arc<dyn AttemptLimiter>,
        clock: Arc<dyn Clock>,
        settings: FileSettings,
    ) -> Self {
        Self {
            objects,
            records,
            users,
            sessions,
            jobs,
            limiter,
            clock,
            settings,
        }
    }

    /// An upload URL for `user`'s new avatar; asking again replaces the upload in progress.
    pub async fn avatar_upload(
        &self,
        user: UserId,
        spec: &UploadSpec,
    ) -> Result<PresignedRequest, EngineError> {
        self.count_upload_url(user).await?;
        let object_key = key(format!("users/{user}/avatar/{}", Uuid::now_v7()))?;
        let upload = AvatarUpload {
            user_id: user,
            object_key: object_key.to_string(),
            content_type: spec.content_type.clone(),
            size_bytes: spec.content_length,
            created_at: self.clock.now(),
        };
        let pending = PendingUpload::Avatar {
            user_id: user.0,
            key: upload.object_key.clone(),
        };
        let request = self.hand_out(&object_key, spec, pending).await?;
        if let Some(replaced) = self.records.put_avatar_upload(&upload).await? {
            // An earlier URL may still be in use for a few minutes; its sweep job removes what
            // it uploads.
            tracing::debug!(key = %replaced, "avatar upload replaced");
        }
        Ok(request)
    }

    /// Makes the uploaded file `user`'s avatar once storage holds it with the declared type and
    /// size; the previous avatar is removed.
    pub async fn complete_avatar(&self, user: UserId) -> Result<Account, EngineError> {
        let Some(upload) = self.records.avatar_upload(user).await? else {
            return Err(EngineError::conflict(
                "no-upload",
                "no avatar upload is in progress: ask POST /v1/me/avatar for a URL first",
            ));
        };
        let object_key = key(upload.object_key.clone())?;
        self.verify(&object_key, &upload.content_type, upload.size_bytes)
            .await?;
        match self.records.complete_avatar(user, &upload.object_key).await {
            Ok(Some(previous)) if previous != upload.object_key => {
                self.discard(&previous).await;
            }
            Ok(_) => {}
            // Another request completed or replaced it meanwhile.
            Err(StoreError::NotFound) => {
                return Err(EngineError::conflict(
                    "no-upload",
                    "this avatar upload was completed or replaced meanwhile",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(userId = %user, "Avatar updated");
        let user = self
            .users
            .user(user)
            .await?
            .ok_or(EngineError::Unauthenticated("the account no longer exists"))?;
        let avatar_url = match user.avatar_key.as_deref() {
            Some(key) => download_url(self.objects.as_ref(), key).await,
            None => None,
        };
        Ok(Account { user, avatar_url })
    }

    /// A new pending document of `session` uploaded by `by` (a participant), and its upload URL.
    pub async fn document_upload(
        &self,
        by: UserId,
        session: Uuid,
        document: NewDocument,
    ) -> Result<(Document, PresignedRequest), EngineError> {
        self.participant(by, session).await?;
        let quota = self.settings.documents_per_session;
        let existing = self
            .records
            .documents_of_session(session, None, quota)
            .await?;
        if existing.len() >= quota as usize {
            return Err(EngineError::conflict(
                "document-quota",
                format!("this session already has {quota} documents, the most it may have"),
            ));
        }
        self.count_upload_url(by).await?;
        let id = Uuid::now_v7();
        let object_key = key(format!("sessions/{session}/documents/{id}"))?;
        let spec = document.spec;
        let record = DocumentRecord {
            id,
            session_id: session,
            uploader_id: by,
            filename: document.filename,
            content_type: spec.content_type.clone(),
            size_bytes: spec.content_length,
            object_key: object_key.to_string(),
            status: DocumentStatus::Pending,
            created_at: self.clock.now(),
            ready_at: None,
        };
        self.records.create_document(&record).await?;
        let pending = PendingUpload::Document {
            session_id: session,
            document_id: id,
            key: record.object_key.clone(),
        };
        let upload = self.hand_out(&object_key, &spec, pending).await?;
        Ok((self.document_of(record).await, upload))
    }

    /// Marks the document `ready` once storage holds it with the declared type and size.
    pub async fn complete_document(
        &self,
        by: UserId,
        session: Uuid,
        document: Uuid,
    ) -> Result<Document, EngineError> {
        self.participant(by, session).await?;
        let mut record = self
            .records
            .document(session, document)
            .await?
            .ok_or(EngineError::NotFound)?;
        if record.status == DocumentStatus::Pending {
            let object_key = key(record.object_key.clone())?;
            self.verify(&object_key, &record.content_type, record.size_bytes)
                .await?;
            let now = self.clock.now();
            self.records.mark_document_ready(record.id, now).await?;
            record.status = DocumentStatus::Ready;
            record.ready_at = Some(now);
            tracing::info!(sessionId = %session, documentId = %document, "Document ready");
        }
        Ok(self.document_of(record).await)
    }

    /// A page of `session`'s documents after `after`, oldest first, for a participant.
    pub async fn documents(
        &self,
        viewer: UserId,
        session: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<DocumentPage, EngineError> {
        self.participant(viewer, session).await?;
        let records = self
            .records
            .documents_of_session(session, after, limit)
            .await?;
        let next_cursor = (records.len() == limit as usize)
            .then(|| records.last().map(|d| d.id))
            .flatten();
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            items.push(self.document_of(record).await);
        }
        Ok(DocumentPage { items, next_cursor })
    }

    /// One document of `session`, with a fresh download URL once ready, for a participant.
    pub async fn document(
        &self,
        viewer: UserId,
        session: Uuid,
        document: Uuid,
    ) -> Result<Document, EngineError> {
        self.participant(viewer, session).await?;
        let record = self
            .records
            .document(session, document)
            .await?
            .ok_or(EngineError::NotFound)?;
        Ok(self.document_of(record).await)
    }

    /// A public app asset (under `assets/`, uploaded by `dragoman assets put`); `NotFound` if
    /// there is none at `key`.
    pub async fn asset(&self, key: &ObjectKey) -> Result<StoredObject, EngineError> {
        self.objects.get(key).await?.ok_or(EngineError::NotFound)
    }

    /// `NotFound` unless `user` is one of the session's two participants; 409
    /// `documents-closed` once the session ended more than [`OPEN_AFTER_END`] ago.
    async fn participant(&self, user: UserId, session: Uuid) -> Result<(), EngineError> {
        let session = self
            .sessions
            .session(SessionId(session))
            .await?
            .ok_or(EngineError::NotFound)?;
        if session.participant(user).is_none() {
            return Err(EngineError::NotFound);
        }
        if let Some(ended_at) = session.ended_at()
            && self.clock.now() > ended_at + OPEN_AFTER_END
        {
            return Err(EngineError::conflict(
                "documents-closed",
                "the session ended more than an hour ago: its documents can no longer be uploaded, listed or downloaded",
            ));
        }
        Ok(())
    }

    async fn document_of(&self, record: DocumentRecord) -> Document {
        let download_url = match record.status {
            DocumentStatus::Ready => download_url(self.objects.as_ref(), &record.object_key).await,
            DocumentStatus::Pending => None,
        };
        Document {
            record,
            download_url,
        }
    }

    /// Counts one upload URL handed to `user`; 429 with `Retry-After` once they have had
    /// `UPLOAD_URLS_PER_HOUR` in the current hour. Called once the request is known to be
    /// valid, so only URLs actually handed out are counted. On Redis the count is shared by the
    /// fleet.
    async fn count_upload_url(&self, user: UserId) -> Result<(), EngineError> {
        let key = format!("upload-urls:{user}");
        let limit = self.settings.upload_urls_per_hour;
        // Counted and checked in one step, so concurrent requests cannot all pass the limit.
        match self.limiter.reserve(&key, limit, UPLOAD_URL_WINDOW).await? {
            Some(retry_after) => Err(EngineError::RateLimited { retry_after }),
            None => Ok(()),
        }
    }

    /// Signs the upload URL and schedules the upload's removal should it never be completed.
    async fn hand_out(
        &self,
        key: &ObjectKey,
        spec: &UploadSpec,
        pending: PendingUpload,
    ) -> Result<PresignedRequest, EngineError> {
        let upload = self.objects.presign_put(key, spec, URL_LIFETIME).await?;
        if let Some(jobs) = &self.jobs {
            let run_at = self.clock.now()
                + TimeDelta::from_std(self.settings.abandon_after)
                    .map_err(|e| EngineError::Internal(e.into()))?;
            jobs.enqueue(pending.sweep_job(run_at)).await.map_err(|e| {
                EngineError::Unavailable(anyhow::anyhow!(e).context("the job queue"))
            })?;
        }
        Ok(upload)
    }

    /// Seals the upload at `key` (from now on its URL cannot change it), then checks that
    /// storage holds there exactly what was declared, and if so settles it. An object that is
    /// there but wrong is removed: nothing unverified stays visible. 409 `upload-missing` or
    /// `upload-invalid` when it is not accepted.
    async fn verify(
        &self,
        key: &ObjectKey,
        content_type: &str,
        size: u64,
    ) -> Result<(), EngineError> {
        let missing =
            || EngineError::conflict("upload-missing", "nothing has been uploaded to the URL yet");
        let objects = self.objects.as_ref();
        // Sealed before it is read: what is verified is what will be served.
        if !objects.seal(key).await? {
            return Err(missing());
        }
        let Some(meta) = objects.head(key).await? else {
            return Err(missing());
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
                return Err(missing());
            };
            verdict.err().map(|why| format!("the file is {why}"))
        };
        match wrong {
            None => {
                // Kept from now on: in S3, the lifecycle rule for abandoned uploads stops
                // applying.
                objects.settle(key).await?;
                Ok(())
            }
            Some(why) => {
                objects.delete(key).await?;
                Err(EngineError::conflict(
                    "upload-invalid",
                    format!("{why}; it was removed: upload the file again"),
                ))
            }
        }
    }

    /// Removes an object no record refers to any more; a failure is logged (the sweep or the
    /// lifecycle rule catches what is left).
    async fn discard(&self, key: &str) {
        let Ok(key) = ObjectKey::parse(key) else {
            return;
        };
        if let Err(e) = self.objects.delete(&key).await {
            tracing::warn!(key = %key, error = %e, "could not remove an object no longer used");
        }
    }
}

/// A key built by the server from ids only.
fn key(raw: String) -> Result<ObjectKey, EngineError> {
    ObjectKey::parse(&raw).map_err(|e| EngineError::Internal(e.into()))
}
