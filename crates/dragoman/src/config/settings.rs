//! The checked settings start-up works from, and the one-machine defaults the tests start
//! from ([`Settings::embedded`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dragoman_domain::matching::MatchingConfig;
use dragoman_http::HttpSettings;
use dragoman_http::ws::WsSettings;
use dragoman_store_postgres::ReplicaSettings;
use dragoman_telemetry::{LogFormat, MetricsFormat};

use super::{AppRole, Database};

/// Where a fleet's instances meet.
#[derive(Clone)]
pub struct RedisSettings {
    pub url: String,
    /// The URL is a Redis Cluster: the cluster client, hash-tagged keys (checked at start
    /// against the server's `cluster_enabled`).
    pub cluster: bool,
    /// Put before every key and channel name (empty: the seed's names as they are).
    pub prefix: String,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("RedisSettings")
            .field("prefix", &self.prefix)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// Where uploaded files live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectsSettings {
    /// Files under this directory, behind URLs the server signs and serves itself.
    Local { dir: PathBuf },
    /// A bucket on S3 or an S3-compatible server; credentials from the standard AWS chain.
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        /// An access key and secret given explicitly (tests); `None`: the standard chain.
        static_credentials: Option<(String, String)>,
    },
}

/// The JWT signing secret.
#[derive(Clone)]
pub enum JwtSecret {
    Given(Vec<u8>),
    /// Read from, or generated once into, this file.
    File(PathBuf),
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtSecret::Given(_) => f.write_str("Given(<redacted>)"),
            JwtSecret::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub database: Database,
    /// A read replica of the PostgreSQL database (DATABASE_READ_URL).
    pub read_replica: Option<ReplicaSettings>,
    pub migrate: bool,
    /// The API's own role, granted by migrations (PostgreSQL only).
    pub app_role: Option<AppRole>,
    pub data_dir: PathBuf,
    pub jwt_secret: JwtSecret,
    /// Unset: the in-process bus and limiter of a single instance.
    pub redis: Option<RedisSettings>,
    pub service_name: String,
    pub public_url: String,
    pub objects: ObjectsSettings,
    /// An upload handed out and not completed within this is removed.
    pub upload_abandon_after: Duration,
    /// Documents a session may have (DOCUMENTS_PER_SESSION).
    pub documents_per_session: u32,
    /// Upload URLs a user may be handed per hour (UPLOAD_URLS_PER_HOUR).
    pub upload_urls_per_hour: u32,
    /// RETENTION_DAYS: explanations and finished requests' offers older than this are deleted.
    pub retention: chrono::TimeDelta,
    pub log_format: LogFormat,
    pub log_level: String,
    pub metrics_format: MetricsFormat,
    pub metrics_interval: Duration,
    pub http: HttpSettings,
    pub matching: MatchingConfig,
    pub ws: WsSettings,
    pub match_tick: Duration,
    pub lease_ttl: Duration,
    pub shutdown_timeout: Duration,
    /// The port of the separate /metrics listener on `host` (0: a free one).
    pub metrics_port: u16,
}

impl Settings {
    /// The one-machine defaults with everything under `data_dir`, listening on `port` of
    /// 127.0.0.1 (0 picks a free port).
    pub fn embedded(data_dir: &Path, port: u16) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port,
            database: Database::Sqlite {
                path: data_dir.join("dragoman.sqlite"),
            },
            read_replica: None,
            migrate: false,
            app_role: None,
            data_dir: data_dir.to_owned(),
            jwt_secret: JwtSecret::File(data_dir.join("jwt-secret")),
            redis: None,
            service_name: "dragoman".to_owned(),
            public_url: format!("http://localhost:{port}"),
            objects: ObjectsSettings::Local {
                dir: data_dir.join("objects"),
            },
            upload_abandon_after: Duration::from_secs(24 * 3600),
            documents_per_session: 20,
            upload_urls_per_hour: 60,
            retention: chrono::TimeDelta::days(90),
            log_format: LogFormat::Json,
            log_level: "info".to_owned(),
            metrics_format: MetricsFormat::Prometheus,
            metrics_interval: Duration::from_secs(15),
            http: HttpSettings::default(),
            matching: MatchingConfig::default(),
            ws: WsSettings::default(),
            match_tick: Duration::from_millis(500),
            lease_ttl: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(25),
            metrics_port: 0,
        }
    }
}
