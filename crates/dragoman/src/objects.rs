//! Object storage from the settings: local files under DATA_DIR behind URLs this server signs,
//! or a bucket on S3 (or an S3-compatible server) with credentials from the standard AWS chain.

use std::sync::Arc;

use dragoman_objects_local::{LocalObjects, SigningKey};
use dragoman_objects_s3::{S3Objects, S3Settings};
use dragoman_ports::{Clock, ObjectStorage};

use crate::config::{ObjectsSettings, Settings};

/// The storage, and the embedded one again if that is what it is (its routes are mounted).
#[derive(Debug, Clone)]
pub struct Objects {
    pub storage: Arc<dyn ObjectStorage>,
    pub local: Option<LocalObjects>,
}

/// Opens the configured storage. `secret` is the server's secret, from which the local URL
/// signing key is derived.
pub fn open(settings: &Settings, secret: &[u8], clock: Arc<dyn Clock>) -> anyhow::Result<Objects> {
    match &settings.objects {
        ObjectsSettings::Local { dir } => {
            if settings.redis.is_some() {
                tracing::warn!(
                    "REDIS_URL without S3_BUCKET: uploads are files of this instance only; a fleet needs S3_BUCKET"
                );
            }
            let local =
                LocalObjects::open(dir, &settings.public_url, SigningKey::derive(secret), clock)?;
            Ok(Objects {
                storage: Arc::new(local.clone()),
                local: Some(local),
            })
        }
        ObjectsSettings::S3 {
            bucket,
            endpoint,
            region,
            static_credentials,
        } => {
            let s3 = S3Objects::new(S3Settings {
                bucket: bucket.clone(),
                endpoint: endpoint.clone(),
                region: region.clone(),
                static_credentials: static_credentials.clone(),
            })?;
            Ok(Objects {
                storage: Arc::new(s3),
                local: None,
            })
        }
    }
}
