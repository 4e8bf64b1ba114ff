//! The embedded object storage: objects are files under DATA_DIR, and the upload and download
//! URLs point at the server itself (`{PUBLIC_URL}/objects/{key}?expires=..&signature=..`).
//!
//! Layout under the root: `data/{key}` holds a complete object, `meta/{key}` its content type,
//! `tmp/` uploads in progress, `sealed/{key}` marks an object its upload URL may no longer
//! replace. An upload is streamed into `tmp/` with its length enforced while it streams, and
//! renamed into `data/` only once every declared byte has arrived: a reader sees the whole object
//! or none. One instance only: a fleet uses S3.

pub mod routes;
pub mod signing;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dragoman_ports::{
    Clock, ObjectError, ObjectKey, ObjectMeta, ObjectStorage, PresignedRequest, StoredObject,
    UploadSpec,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

pub use signing::{SignedRequest, SigningKey};
pub use upload::{Refusal, UploadRequest};

/// Files under a directory, behind URLs this server signs and serves.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// Base of the URLs handed out, without a trailing slash (`PUBLIC_URL`).
    public_url: String,
    key: SigningKey,
    clock: Arc<dyn Clock>,
    /// Held while an upload is renamed into place and while a key is sealed, so that an upload
    /// either lands before the seal (and is what `complete` verifies) or is refused. A tokio
    /// mutex because the rename is awaited while it is held; it is held for two renames only.
    placing: tokio::sync::Mutex<()>,
}

impl LocalObjects {
    /// Objects under `root` (created if absent), URLs under `public_url`.
    pub fn open(
        root: impl Into<PathBuf>,
        public_url: &str,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let root = root.into();
        for dir in ["data", "meta", "tmp", "sealed"] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("creating {}", root.join(dir).display()))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                public_url: public_url.trim_end_matches('/').to_owned(),
                key,
                clock,
                placing: tokio::sync::Mutex::new(()),
            }),
        })
    }

    fn data_path(&self, key: &ObjectKey) -> PathBuf {
        self.inner.root.join("data").join(key.as_str())
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        self.inner.root.join("meta").join(key.as_str())
    }

    fn sealed_path(&self, key: &ObjectKey) -> PathBuf {
        self.inner.root.join("sealed").join(key.as_str())
    }

    /// Whether `key`'s upload URL may no longer replace it.
    async fn is_sealed(&self, key: &ObjectKey) -> Result<bool, ObjectError> {
        tokio::fs::try_exists(self.sealed_path(key))
            .await
            .map_err(|e| anyhow::Error::from(e).context("reading a seal").into())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.inner.root.join("tmp")
    }

    fn presign(
        &self,
        method: &'static str,
        key: &ObjectKey,
        spec: Option<&UploadSpec>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        let expires_at = self.inner.clock.now()
            + chrono::TimeDelta::from_std(expires_in).context("an expiry beyond the calendar")?;
        let expires = expires_at.timestamp();
        let signature = self.inner.key.sign(&SignedRequest {
            method,
            key: key.as_str(),
            expires,
            content_type: spec.map(|s| s.content_type.as_str()),
            content_length: spec.map(|s| s.content_length),
        });
        let headers = spec
            .map(|s| {
                vec![
                    ("Content-Type".to_owned(), s.content_type.clone()),
                    ("Content-Length".to_owned(), s.content_length.to_string()),
                ]
            })
            .unwrap_or_default();
        Ok(PresignedRequest {
            method,
            url: format!(
                "{}/objects/{}?expires={expires}&signature={signature}",
                self.inner.public_url, key
            ),
            headers,
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at),
        })
    }

    /// Checks a request for `/objects/{key}` against its URL's signature and expiry.
    fn authorize(&self, request: &SignedRequest<'_>, signature: &str) -> Result<(), Refusal> {
        if request.expires < self.inner.clock.now().timestamp() {
            return Err(Refusal::Forbidden("the URL has expired"));
        }
        if !self.inner.key.verify(request, signature) {
            return Err(Refusal::Forbidden("the signature does not match"));
        }
        Ok(())
    }

    /// Serves a signed GET: the object's metadata and an open file to stream from.
    pub async fn open_download(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
    ) -> Result<(ObjectMeta, tokio::fs::File), Refusal> {
        self.authorize(
            &SignedRequest {
                method: "GET",
                key,
                expires,
                content_type: None,
                content_length: None,
            },
            signature,
        )?;
        let key = ObjectKey::parse(key).map_err(|_| Refusal::NotFound)?;
        let meta = self.head(&key).await?.ok_or(Refusal::NotFound)?;
        let file = match tokio::fs::File::open(self.data_path(&key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::NotFound),
            Err(e) => return Err(Refusal::Backend(e.into())),
        };
        Ok((meta, file))
    }

    /// Removes uploads in progress older than `age` (a client that went away mid-upload).
    pub async fn remove_stale_temporaries(&self, age: Duration) -> anyhow::Result<usize> {
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(self.tmp_dir()).await?;
        while let Some(entry) = entries.next_entry().await? {
            let modified = entry.metadata().await?.modified()?;
            if modified.elapsed().unwrap_or_default() > age {
                tokio::fs::remove_file(entry.path()).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn meta_of(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError> {
        let stat = match tokio::fs::metadata(self.data_path(key)).await {
            Ok(stat) if stat.is_file() => stat,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::Error::from(e).into()),
        };
        let content_type = tokio::fs::read_to_string(self.meta_path(key)).await.ok();
        let modified = stat.modified().ok().map(DateTime::<Utc>::from);
        let nanos = modified
            .and_then(|m| m.timestamp_nanos_opt())
            .unwrap_or_default();
        Ok(Some(ObjectMeta {
            key: key.clone(),
            size: stat.len(),
            content_type,
            last_modified: modified,
            etag: Some(format!("\"{:x}-{nanos:x}\"", stat.len())),
        }))
    }
}

#[async_trait]
impl ObjectStorage for LocalObjects {
    async fn presign_put(
        &self,
        key: &ObjectKey,
        spec: &UploadSpec,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        if !upload::is_header_value(&spec.content_type) {
            return Err(anyhow::anyhow!("content type is not a header value").into());
        }
        self.presign("PUT", key, Some(spec), expires_in)
    }

    async fn presign_get(
        &self,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<PresignedRequest, ObjectError> {
        self.presign("GET", key, None, expires_in)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, ObjectError> {
        self.meta_of(key).await
    }

    async fn read_start(&self, key: &ObjectKey, len: u64) -> Result<Option<Vec<u8>>, ObjectError> {
        let file = match tokio::fs::File::open(self.data_path(key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::Error::from(e).into()),
        };
        let mut start = Vec::new();
        file.take(len)
            .read_to_end(&mut start)
            .await
            .context("reading an object")?;
        Ok(Some(start))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<StoredObject>, ObjectError> {
        let Some(mut meta) = self.meta_of(key).await? else {
            return Ok(None);
        };
        let bytes = match tokio::fs::read(self.data_path(key)).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::Error::from(e).into()),
        };
        // Assets are read whole anyway: a digest of the content is a better ETag than the
        // modification time (it survives a copy to another machine).
        meta.etag = Some(format!("\"{:x}\"", Sha256::digest(&bytes)));
        meta.size = bytes.len() as u64;
        Ok(Some(StoredObject { meta, bytes }))
    }

    async fn put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<ObjectMeta, ObjectError> {
        let length = bytes.len() as u64;
        let body = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes.into()) });
        self.store_stream(key, content_type, length, body, false)
            .await
            .map_err(|r| ObjectError::Backend(anyhow::anyhow!("{r}")))?;
        self.meta_of(key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("object vanished after writing").into())
    }

    async fn seal(&self, key: &ObjectKey) -> Result<bool, ObjectError> {
        let sealed = self.sealed_path(key);
        if let Some(parent) = sealed.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .context("creating the seal's directory")?;
        }
        let _placing = self.inner.placing.lock().await;
        // Nothing uploaded yet: nothing to seal, and the URL may still upload.
        if self.meta_of(key).await?.is_none() {
            return Ok(false);
        }
        tokio::fs::write(&sealed, b"")
            .await
            .context("writing a seal")?;
        Ok(true)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        let _placing = self.inner.placing.lock().await;
        // The data first and the seal last: the URL may upload again only once nothing is left.
        for path in [
            self.data_path(key),
            self.meta_path(key),
            self.sealed_path(key),
        ] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(anyhow::Error::from(e).into()),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, ObjectError> {
        let data = self.inner.root.join("data");
        let keys = tokio::task::spawn_blocking(move || walk(&data))
            .await
            .context("listing objects")??;
        let mut listed = Vec::new();
        for key in keys.into_iter().filter(|k| k.starts_with(prefix)) {
            let Ok(key) = ObjectKey::parse(&key) else {
                continue;
            };
            if let Some(meta) = self.meta_of(&key).await? {
                listed.push(meta);
            }
        }
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }
}

/// Every file under `root`, as `/`-separated keys relative to it.
fn walk(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                let parts: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                keys.push(parts.join("/"));
            }
        }
    }
    Ok(keys)
}
