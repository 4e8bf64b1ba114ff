//! Object storage on S3 or an S3-compatible server (`S3_BUCKET`, `S3_ENDPOINT`).
//!
//! Server-side operations (HEAD, ranged GET, PUT of assets, DELETE, LIST) go through
//! object_store's `AmazonS3`, which also supplies the credentials: the standard chain of
//! environment variables, web identity, the ECS task role and instance metadata, so an ECS task
//! needs nothing configured. Upload and download URLs are presigned here (see [`presign`]) so
//! that an upload URL binds its content type and exact length.
//!
//! Upload URLs name `uploads/{key}`, never `key` itself: `seal`, when `complete` is called, copies
//! the upload to `key` (CopyObject) and removes it, so the URL, valid for a few more minutes,
//! can never replace what was verified and is served; whatever it uploads later stays under
//! `uploads/`, tagged pending, and expires. Download URLs ask S3 to answer
//! `Content-Disposition: attachment` (`response-content-disposition`).
//!
//! Upload URLs also sign `x-amz-tagging: upload-state=pending`: the bucket's lifecycle rule
//! (infra/terraform/modules/storage) expires objects so tagged after one day. `settle`, called
//! when `complete` has verified an upload, re-tags it `upload-state=complete` (PutObjectTagging)
//! so the rule no longer applies; the abandoned-upload sweep job removes the others sooner, on
//! every backend alike.

pub mod presign;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use dragoman_ports::{
    Clock, ObjectError, ObjectKey, ObjectMeta, ObjectStorage, PresignedRequest, StoredObject,
    SystemClock, UploadSpec,
};
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutOptions,
};

/// The tag the lifecycle rule matches: uploads never completed expire after a day.
pub const PENDING_TAG: &str = "upload-state=pending";

/// The tag set of a verified upload (the body of PutObjectTagging).
const COMPLETE_TAGGING: &str =
    "<Tagging><TagSet><Tag><Key>upload-state</Key><Value>complete</Value></Tag></TagSet></Tagging>";

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// AWS_REGION, or `us-east-1`.
    pub region: String,
    /// An access key and secret given explicitly (tests); `None` reads the standard chain.
    pub static_credentials: Option<(String, String)>,
}

/// A bucket on S3 or an S3-compatible server.
#[derive(Debug, Clone)]
pub struct S3Objects {
    store: Arc<AmazonS3>,
    settings: Arc<S3Settings>,
    /// For the one request object_store does not make: PutObjectTagging.
    http: reqwest::Client,
    /// The signing time of presigned URLs. S3 checks it against its own clock (within 15
    /// minutes), so in service this is the system's, whatever clock the rest of the app reads.
    clock: Arc<dyn Clock>,
}

impl S3Objects {
    /// Connects lazily: nothing is sent until the first operation. Credentials come from the
    /// environment's standard AWS chain. URLs are signed at the system's time.
    pub fn new(settings: S3Settings) -> anyhow::Result<Self> {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    /// As [`S3Objects::new`], signing URLs at `clock`'s time.
    pub fn with_clock(settings: S3Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region);
        if let Some((key_id, secret)) = &settings.static_credentials {
            builder = builder
                .with_access_key_id(key_id)
                .with_secret_access_key(secret);
        }
        if let Some(endpoint) = &settings.endpoint {
            // S3-compatible servers address buckets by path, not by host name.
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder.build().context("configuring S3")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client for S3")?;
        Ok(Self {
            store: Arc::new(store),
            settings: Arc::new(settings),
            http,
            clock,
        })
    }

    /// Removes one object; an absent one is not an error.
    async fn remove(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        match self.store.delete(&path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    /// `scheme://host[:port]` and the path of `key` on it.
    fn location(&self, key: &ObjectKey) -> (String, String) {
        // Keys hold only unreserved characters and `/`: they need no percent-encoding.
        match &self.settings.endpoint {
            Some(endpoint) => (
                endpoint.trim_end_matches('/').to_owned(),
                format!("/{}/{key}", self.settings.bucket),
            ),
            None => (
                format!(
                    "https://{}.s3.{}.amazonaws.com",
                    self.settings.bucket, self.settings.region
                ),
                format!("/{key}"),
            ),
        }
    }

    async fn presign(
        &self,
        method: &'static str,
        key: &ObjectKey,
        headers: Vec<(&'static str, String)>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        self.presign_with_query(method, key, headers, vec![], expires_in)
            .await
    }

    async fn presign_with_query(
        &self,
        method: &'static str,
        key: &ObjectKey,
        headers: Vec<(&'static str, String)>,
        query: Vec<(&'static str, String)>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .context("getting AWS credentials")?;
        let now = self.clock.now();
        let (origin, path) = self.location(key);
        let url = presign::presign(
            &presign::Presign {
                method,
                origin: &origin,
                path: &path,
                region: &self.settings.region,
                headers: headers.clone(),
                query,
                now,
                expires_secs: expires_in.as_secs().max(1),
            },
            &presign::Credentials {
                key_id: &credential.key_id,
                secret_key: &credential.secret_key,
                token: credential.token.as_deref(),
            },
        );
        Ok(PresignedRequest {
            method,
            url,
            headers: headers
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            expires_at: now
                + chrono::TimeDelta::from_std(expires_in)
                    .context("an expiry beyond the calendar")?,
        })
    }
}

fn path(key: &ObjectKey) -> Path {
    Path::from(key.as_str())
}

/// Where the upload URL of `key` puts its bytes until `seal` moves them to `key`.
fn upload_key(key: &ObjectKey) -> Result<ObjectKey, ObjectError> {
    Ok(ObjectKey::parse(&format!("{UPLOADS_PREFIX}{key}"))?)
}

/// The prefix of uploads not sealed yet.
pub const UPLOADS_PREFIX: &str = "uploads/";

fn meta(key: ObjectKey, meta: &object_store::ObjectMeta, attributes: &Attributes) -> ObjectMeta {
    ObjectMeta {
        key,
        size: meta.size,
        content_type: attributes
            .get(&Attribute::ContentType)
            .map(|v| v.as_ref().to_owned()),
        last_modified: Some(meta.last_modified),
        etag: meta.e_tag.clone(),
    }
}

fn backend(e: object_store::Error) -> ObjectError {
    ObjectError::Backend(anyhow::Error::new(e).context("S3"))
}

#[async_trait]
impl ObjectStorage for S3Objects {
    async fn presign_put(
        &self,
        key: &ObjectKey,
        spec: &UploadSpec,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        self.presign(
            "PUT",
            &upload_key(key)?,
            vec![
                ("content-type", spec.content_type.clone()),
                ("content-length", spec.content_length.to_string()),
                ("x-amz-tagging", PENDING_TAG.to_owned()),
            ],
            expires_in,
        )
        .await
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        self.presign_with_query(
            "GET",
            key,
            vec![],
            vec![("response-content-disposition", "attachment".to_owned())],
            expires_in,
        )
        .await
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError> {
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(&path(key), options).await {
            Ok(result) => Ok(Some(meta(key.clone(), &result.meta, &result.attributes))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn read_start(&self, key: &ObjectKey, len: u64) -> Result<Option<Vec<u8>>, ObjectError> {
        if len == 0 {
            return Ok(self.head(key).await?.map(|_| Vec::new()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..len)),
            ..GetOptions::default()
        };
        match self.store.get_opts(&path(key), options).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(backend)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, ObjectError> {
        match self.store.get(&path(key)).await {
            Ok(result) => {
                let meta = meta(key.clone(), &result.meta, &result.attributes);
                let bytes = result.bytes().await.map_err(backend)?.to_vec();
                Ok(Some(StoredObject { meta, bytes }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<ObjectMeta, ObjectError> {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&path(key), bytes.into(), options)
            .await
            .map_err(backend)?;
        self.head(key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("object vanished after writing").into())
    }

    async fn settle(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        let checksum = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(COMPLETE_TAGGING))
        };
        let request = self
            .presign_with_query(
                "PUT",
                key,
                vec![("x-amz-checksum-sha256", checksum)],
                vec![("tagging", String::new())],
                Duration::from_secs(60),
            )
            .await?;
        let mut builder = self.http.put(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = builder
            .body(COMPLETE_TAGGING)
            .send()
            .await
            .context("S3 PutObjectTagging")?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status == reqwest::StatusCode::NOT_IMPLEMENTED {
            // An S3-compatible server without object tags has no tag lifecycle rule either:
            // there is nothing to escape.
            tracing::debug!(key = %key, "the storage does not implement object tagging");
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(anyhow::anyhow!(
            "S3 PutObjectTagging answered {status}: {}",
            body.chars().take(300).collect::<String>()
        )
        .into())
    }

    async fn seal(&self, key: &ObjectKey) -> Result<bool, ObjectError> {
        // Sealed already: whatever the URL uploaded since stays under `uploads/`.
        if self.head(key).await?.is_some() {
            return Ok(true);
        }
        let upload = upload_key(key)?;
        match self.store.copy(&path(&upload), &path(key)).await {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(backend(e)),
        }
        self.remove(&upload).await?;
        Ok(true)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        self.remove(key).await?;
        if !key.starts_with(UPLOADS_PREFIX) {
            self.remove(&upload_key(key)?).await?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectError> {
        // object_store lists by whole segments; filter the last partial segment ourselves.
        let dir = prefix.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
        let dir = (!dir.is_empty()).then(|| Path::from(dir));
        let metas: Vec<_> = self
            .store
            .list(dir.as_ref())
            .try_collect()
            .await
            .map_err(backend)?;
        let mut listed: Vec<ObjectMeta> = metas
            .iter()
            .filter(|m| m.location.as_ref().starts_with(prefix))
            .filter_map(|m| {
                let key = ObjectKey::parse(m.location.as_ref()).ok()?;
                Some(meta(key, m, &Attributes::new()))
            })
            .collect();
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }
}
