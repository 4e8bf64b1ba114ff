//! Configuration: every setting is an environment variable and a command-line flag (API.md's
//! table, plus the settings Dragoman adds), checked once at start into [`Settings`].
//!
//! An invalid setting stops the process before it serves anything, with one line naming the
//! variable and what is wrong, and exit status 2.

mod database;

pub use database::{AppRole, Database};

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::TimeDelta;
use clap::{Args, Parser, Subcommand, ValueEnum};
use dragoman_domain::matching::{MatchingConfig, Strategy};
use dragoman_http::HttpSettings;
use dragoman_http::auth::{AddressLimit, PasswordBudget};
use dragoman_http::ws::WsSettings;
use dragoman_store_postgres::ReplicaSettings;
use dragoman_telemetry::{LogFormat, MetricsFormat};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "dragoman",
    version,
    about = "On-demand interpreting backend",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Bring the database schema up to date, then exit. Use a direct connection
    /// (DATABASE_MIGRATION_URL or DATABASE_URL), never a transaction pooler.
    Migrate,
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// App assets served at GET /v1/assets/{path}.
    #[command(subcommand)]
    Assets(AssetsCommand),
    /// The durable job queue: list, replay and purge dead-lettered jobs.
    #[command(subcommand)]
    Jobs(crate::jobs_cli::JobsCommand),
    /// Exit 0 if the server on PORT answers GET /health with 200, else 1 (for container health
    /// checks, which have no curl in a minimal image).
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (admins can only be created this way).
    CreateUser {
        #[arg(long)]
        email: String,
        /// `admin`, `client` or `interpreter`.
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        /// Read the password from standard input (one line). Required: a password on the
        /// command line would be visible to every user of the machine.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Upload one file as the asset at PATH (`i18n/es.json` is served at
    /// /v1/assets/i18n/es.json), replacing any earlier version.
    Put {
        /// The local file.
        file: PathBuf,
        /// Where it is served, under /v1/assets/.
        path: String,
        /// Its media type; unset: from the file's extension.
        #[arg(long)]
        content_type: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolerArg {
    /// Directly to PostgreSQL, or a pooler with prepared-statement support.
    None,
    /// A transaction pooler without prepared-statement support (PgBouncer before 1.21).
    Transaction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsFormatArg {
    /// /metrics only.
    Prometheus,
    /// /metrics, and CloudWatch Embedded Metric Format lines on standard output.
    Emf,
}

/// Every setting, as given.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// HTTP and WebSocket port.
    #[arg(long, env = "PORT", default_value_t = 3000, global = true)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0", global = true)]
    pub host: String,
    /// `postgres://...` for PostgreSQL (directly or through PgBouncer); unset: embedded SQLite
    /// under DATA_DIR.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// A direct PostgreSQL URL for migrations when DATABASE_URL goes through a pooler.
    #[arg(
        long,
        env = "DATABASE_MIGRATION_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_migration_url: Option<String>,
    /// What sits between the instance and PostgreSQL.
    #[arg(
        long,
        env = "DATABASE_POOLER",
        value_enum,
        default_value = "none",
        global = true
    )]
    pub database_pooler: PoolerArg,
    /// The least-privilege role the API connects as: `dragoman migrate` (run as the schema's
    /// owner) creates or updates it and grants it row access to every table, nothing more.
    #[arg(long, env = "DATABASE_APP_USER", global = true)]
    pub database_app_user: Option<String>,
    /// The password `dragoman migrate` sets on DATABASE_APP_USER (unset: left as it is).
    #[arg(
        long,
        env = "DATABASE_APP_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub database_app_password: Option<String>,
    /// Connections in this instance's PostgreSQL pool.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub database_max_connections: u32,
    /// A PostgreSQL streaming replica of DATABASE_URL's database for the read-heavy queries
    /// (directly or through a pooler); unset: every read on DATABASE_URL.
    #[arg(long, env = "DATABASE_READ_URL", global = true, hide_env_values = true)]
    pub database_read_url: Option<String>,
    /// What sits between the instance and the replica (as DATABASE_POOLER).
    #[arg(
        long,
        env = "DATABASE_READ_POOLER",
        value_enum,
        default_value = "none",
        global = true
    )]
    pub database_read_pooler: PoolerArg,
    /// Reads go back to the primary while the replica lags more than this (milliseconds).
    #[arg(
        long,
        env = "DATABASE_READ_MAX_LAG_MS",
        default_value_t = 2000,
        global = true
    )]
    pub database_read_max_lag_ms: u64,
    /// Migrate the database at start (PostgreSQL; SQLite always migrates).
    #[arg(long, env = "MIGRATE", global = true)]
    pub migrate: bool,
    /// `redis://...` or `rediss://...` (TLS); required to run more than one instance.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,
    /// REDIS_URL is a Redis Cluster (its configuration endpoint, or any node).
    #[arg(long, env = "REDIS_CLUSTER", global = true)]
    pub redis_cluster: bool,
    /// Put before every Redis key and channel (to share one Redis between deployments).
    #[arg(long, env = "REDIS_PREFIX", default_value = "", global = true)]
    pub redis_prefix: String,
    /// The bucket for uploads; unset: local files under DATA_DIR.
    #[arg(long, env = "S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// An S3-compatible endpoint (addressed path-style: `{endpoint}/{bucket}/{key}`); unset: AWS.
    #[arg(long, env = "S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// The bucket's region (signed into every S3 URL).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", global = true)]
    pub aws_region: String,
    /// Seconds after which an upload handed out and never completed is removed.
    #[arg(
        long,
        env = "UPLOAD_ABANDON_SECS",
        default_value_t = 86_400,
        global = true
    )]
    pub upload_abandon_secs: u64,
    /// Documents a session may have, pending uploads included; beyond, 409.
    #[arg(
        long,
        env = "DOCUMENTS_PER_SESSION",
        default_value_t = 20,
        global = true
    )]
    pub documents_per_session: u32,
    /// Upload URLs (avatar and documents) one user may be handed per hour; beyond, 429.
    #[arg(
        long,
        env = "UPLOAD_URLS_PER_HOUR",
        default_value_t = 60,
        global = true
    )]
    pub upload_urls_per_hour: u32,
    /// Days explanations and the offers of finished requests are kept; older ones are deleted
    /// by the hourly retention job (sessions and ratings stay). At least 1.
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 90, global = true)]
    pub retention_days: u32,
    /// Embedded database, local objects, generated development secret.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// At least 32 bytes. Unset: generated once into DATA_DIR (embedded only).
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The `service` field of every log line.
    #[arg(long, env = "SERVICE_NAME", default_value = "dragoman", global = true)]
    pub service_name: String,
    /// Base of URLs the server hands out. Unset: http://localhost:PORT.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// `json` or `text`. Unset: text on a terminal, JSON otherwise.
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormatArg>,
    /// Log filter (`info`, `debug`, `info,dragoman_http=debug`); RUST_LOG overrides it.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
    /// Take the client address from the last X-Forwarded-For entry (only behind a load balancer
    /// that sets it).
    #[arg(long, env = "TRUST_FORWARDED_FOR", global = true)]
    pub trust_forwarded_for: bool,
    /// Failed logins for one account within the window before 429.
    #[arg(
        long,
        env = "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        default_value_t = 10,
        global = true
    )]
    pub login_max_failures_per_account: u32,
    /// Failed logins from one address within the window before 429.
    #[arg(
        long,
        env = "LOGIN_MAX_FAILURES_PER_ADDRESS",
        default_value_t = 100,
        global = true
    )]
    pub login_max_failures_per_address: u32,
    /// The login failure window, seconds.
    #[arg(long, env = "LOGIN_WINDOW_SECS", default_value_t = 900, global = true)]
    pub login_window_secs: u64,
    /// Password hashes (sign-up) and checks (login) running at once, 19 MiB each: the bound on
    /// their memory. Unset: the number of cores.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", global = true)]
    pub password_hash_concurrency: Option<usize>,
    /// Milliseconds a sign-up or login waits for a hashing slot before 503 with Retry-After.
    #[arg(
        long,
        env = "PASSWORD_HASH_QUEUE_MS",
        default_value_t = 2000,
        global = true
    )]
    pub password_hash_queue_ms: u64,
    /// Sign-ups from one client address within SIGNUP_WINDOW_SECS before 429.
    #[arg(
        long,
        env = "SIGNUP_LIMIT_PER_ADDRESS",
        default_value_t = 20,
        global = true
    )]
    pub signup_limit_per_address: u32,
    /// The sign-up limit's window, seconds.
    #[arg(
        long,
        env = "SIGNUP_WINDOW_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub signup_window_secs: u64,
    /// Signed-in devices (open refresh token families) per user; a login beyond it signs out
    /// the least recently used.
    #[arg(
        long,
        env = "REFRESH_FAMILIES_PER_USER",
        default_value_t = 10,
        global = true
    )]
    pub refresh_families_per_user: u32,
    /// Seconds an offer waits for an answer before it goes to the next candidate.
    #[arg(long, env = "OFFER_TIMEOUT_SECS", default_value_t = 20, global = true)]
    pub offer_timeout_secs: u64,
    /// Offers an interpreter may let expire in a row before being set `away`.
    #[arg(long, env = "MAX_NO_ANSWER", default_value_t = 3, global = true)]
    pub max_no_answer: u32,
    /// Seconds of wrap-up after a session before the interpreter is `available` again.
    #[arg(long, env = "WRAP_UP_SECS", default_value_t = 10, global = true)]
    pub wrap_up_secs: u64,
    /// Seconds a request may wait unmatched before it expires.
    #[arg(long, env = "MAX_WAIT_SECS", default_value_t = 300, global = true)]
    pub max_wait_secs: u64,
    /// Candidate order: `longest_idle`, `round_robin` or `least_talk_time`.
    #[arg(
        long,
        env = "MATCHING_STRATEGY",
        default_value = "longest_idle",
        global = true
    )]
    pub matching_strategy: String,
    /// Milliseconds between sweeps of the timers and re-examinations of waiting requests.
    #[arg(long, env = "MATCH_TICK_MS", default_value_t = 500, global = true)]
    pub match_tick_ms: u64,
    /// Seconds a matching lease lasts: the longest a language stays unmatched after its
    /// instance dies.
    #[arg(long, env = "LEASE_TTL_SECS", default_value_t = 5, global = true)]
    pub lease_ttl_secs: u64,
    /// Seconds between the server's pings on each WebSocket.
    #[arg(long, env = "WS_PING_SECS", default_value_t = 30, global = true)]
    pub ws_ping_secs: u64,
    /// Seconds of silence (pongs included) after which a WebSocket is closed; matched to the
    /// load balancer's idle timeout.
    #[arg(
        long,
        env = "WS_IDLE_TIMEOUT_SECS",
        default_value_t = 120,
        global = true
    )]
    pub ws_idle_timeout_secs: u64,
    /// Seconds an interpreter may be without any WebSocket before being set `offline`.
    #[arg(
        long,
        env = "PRESENCE_GRACE_SECS",
        default_value_t = 120,
        global = true
    )]
    pub presence_grace_secs: u64,
    /// WebSockets one instance holds at most; beyond, the upgrade answers 503.
    #[arg(
        long,
        env = "WS_MAX_CONNECTIONS",
        default_value_t = 19_000,
        global = true
    )]
    pub ws_max_connections: usize,
    /// WebSockets one user may hold across the fleet; a new one past it closes the user's
    /// oldest (close code 4008), on whichever instance holds it.
    #[arg(long, env = "WS_MAX_PER_USER", default_value_t = 5, global = true)]
    pub ws_max_per_user: usize,
    /// Longest a graceful stop waits for requests in flight, seconds (under ECS's 30 s).
    #[arg(
        long,
        env = "SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 25,
        global = true
    )]
    pub shutdown_timeout_secs: u64,
    /// `prometheus` (/metrics only) or `emf` (also CloudWatch Embedded Metric Format lines on
    /// standard output). /metrics is served either way.
    #[arg(
        long,
        env = "METRICS_FORMAT",
        value_enum,
        default_value = "prometheus",
        global = true
    )]
    pub metrics_format: MetricsFormatArg,
    /// Milliseconds between refreshes of the gauges read from the store and between EMF lines.
    #[arg(
        long,
        env = "METRICS_INTERVAL_MS",
        default_value_t = 15_000,
        global = true
    )]
    pub metrics_interval_ms: u64,
    /// The port of the separate listener that serves /metrics (0 picks a free port). The public
    /// listener serves /metrics only to a caller presenting METRICS_TOKEN.
    #[arg(long, env = "METRICS_PORT", default_value_t = 9100, global = true)]
    pub metrics_port: u16,
    /// A bearer token that opens /metrics on the public listener too. Unset: /metrics is only on
    /// METRICS_PORT.
    #[arg(long, env = "METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Seconds a connection may take to send a request's headers, counted from its opening or
    /// from the end of its previous response (so also the keep-alive idle limit: keep it above
    /// the load balancer's idle timeout of 60 s).
    #[arg(
        long,
        env = "HTTP_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 65,
        global = true
    )]
    pub http_header_read_timeout_secs: u64,
    /// Seconds a request's body may take to arrive (signed uploads to the embedded storage get
    /// at least ten minutes).
    #[arg(
        long,
        env = "HTTP_BODY_READ_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub http_body_read_timeout_secs: u64,
    /// Seconds a handler may take to answer before the request gets 503 with Retry-After.
    #[arg(
        long,
        env = "HTTP_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub http_request_timeout_secs: u64,
}

/// A setting that cannot be used, named by its environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "configuration error: {}: {}",
            self.variable, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// A setting found unusable after the checks of [`Config::validate`], at start-up (a server
    /// it names that refuses it): `main` reports it the same way, exit status 2.
    pub fn new(variable: &'static str, message: impl std::fmt::Display) -> Self {
        // One line, whatever the cause's text holds.
        let message = message.to_string().replace(['\n', '\r'], " ");
        Self { variable, message }
    }
}

fn error(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

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

impl Config {
    /// Checks every setting; the first unusable one is the error.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let database = self.database()?;
        let app_role = self.app_role(&database)?;
        let read_replica = self.read_replica(&database)?;

        let jwt_secret = match self.jwt_secret.as_deref() {
            Some(s) if s.len() < 32 => {
                return Err(error(
                    "JWT_SECRET",
                    format!(
                        "is {} bytes; it must be at least 32 bytes of random data",
                        s.len()
                    ),
                ));
            }
            Some(s) => JwtSecret::Given(s.as_bytes().to_vec()),
            None if self.redis_url.is_some() => {
                return Err(error(
                    "JWT_SECRET",
                    "must be set when REDIS_URL is set: every instance of a fleet must sign with the same secret",
                ));
            }
            None => JwtSecret::File(self.data_dir.join("jwt-secret")),
        };

        let redis = match self.redis_url.as_deref() {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                Some(RedisSettings {
                    url: url.to_owned(),
                    cluster: self.redis_cluster,
                    prefix: self.redis_prefix.clone(),
                })
            }
            Some(_) => return Err(error("REDIS_URL", "must start with redis:// or rediss://")),
            None if self.redis_cluster => {
                return Err(error("REDIS_CLUSTER", "is true, but REDIS_URL is not set"));
            }
            None => None,
        };
        let objects = match (self.s3_bucket.as_deref(), self.s3_endpoint.as_deref()) {
            (None, None) => ObjectsSettings::Local {
                dir: self.data_dir.join("objects"),
            },
            (None, Some(_)) => {
                return Err(error(
                    "S3_BUCKET",
                    "must be set when S3_ENDPOINT is set: the endpoint serves a bucket",
                ));
            }
            (Some(bucket), endpoint) => {
                let valid_bucket = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    });
                if !valid_bucket {
                    return Err(error(
                        "S3_BUCKET",
                        "must be a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens",
                    ));
                }
                let endpoint = match endpoint {
                    Some(e) if e.starts_with("http://") || e.starts_with("https://") => {
                        Some(e.trim_end_matches('/').to_owned())
                    }
                    Some(_) => {
                        return Err(error("S3_ENDPOINT", "must start with http:// or https://"));
                    }
                    None => None,
                };
                if self.aws_region.trim().is_empty() {
                    return Err(error("AWS_REGION", "must not be empty"));
                }
                ObjectsSettings::S3 {
                    bucket: bucket.to_owned(),
                    endpoint,
                    region: self.aws_region.clone(),
                    static_credentials: None,
                }
            }
        };
        if self.upload_abandon_secs < 600 || self.upload_abandon_secs > 30 * 86_400 {
            return Err(error(
                "UPLOAD_ABANDON_SECS",
                "must be 600 (longer than an upload URL lives) to 2592000",
            ));
        }
        if !(1..=1000).contains(&self.documents_per_session) {
            return Err(error("DOCUMENTS_PER_SESSION", "must be 1 to 1000"));
        }
        if self.upload_urls_per_hour == 0 {
            return Err(error("UPLOAD_URLS_PER_HOUR", "must be at least 1"));
        }

        if self.retention_days == 0 || self.retention_days > 36_500 {
            return Err(error("RETENTION_DAYS", "must be 1 to 36500"));
        }

        if self.login_window_secs == 0 {
            return Err(error("LOGIN_WINDOW_SECS", "must be at least 1"));
        }
        if self.login_max_failures_per_account == 0 || self.login_max_failures_per_address == 0 {
            return Err(error(
                "LOGIN_MAX_FAILURES_PER_ACCOUNT",
                "login failure limits must be at least 1",
            ));
        }
        let password_budget = PasswordBudget {
            concurrency: self
                .password_hash_concurrency
                .unwrap_or(PasswordBudget::default().concurrency),
            queue: Duration::from_millis(self.password_hash_queue_ms),
        };
        if !(1..=1024).contains(&password_budget.concurrency) {
            return Err(error("PASSWORD_HASH_CONCURRENCY", "must be 1 to 1024"));
        }
        if self.password_hash_queue_ms > 60_000 {
            return Err(error("PASSWORD_HASH_QUEUE_MS", "must be 0 to 60000"));
        }
        if self.signup_limit_per_address == 0 {
            return Err(error("SIGNUP_LIMIT_PER_ADDRESS", "must be at least 1"));
        }
        if self.signup_window_secs == 0 {
            return Err(error("SIGNUP_WINDOW_SECS", "must be at least 1"));
        }
        if self.refresh_families_per_user == 0 {
            return Err(error("REFRESH_FAMILIES_PER_USER", "must be at least 1"));
        }
        let public_url = match self.public_url.as_deref() {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                u.trim_end_matches('/').to_owned()
            }
            Some(_) => return Err(error("PUBLIC_URL", "must start with http:// or https://")),
            None => format!("http://localhost:{}", self.port),
        };
        if self.service_name.trim().is_empty() {
            return Err(error("SERVICE_NAME", "must not be empty"));
        }

        let seconds = |variable: &'static str, value: u64| {
            i64::try_from(value)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .ok_or_else(|| error(variable, "is too large"))
        };
        let strategy = Strategy::parse(&self.matching_strategy).map_err(|_| {
            error(
                "MATCHING_STRATEGY",
                "must be longest_idle, round_robin or least_talk_time",
            )
        })?;
        let matching = MatchingConfig {
            offer_timeout: seconds("OFFER_TIMEOUT_SECS", self.offer_timeout_secs)?,
            max_no_answer: self.max_no_answer,
            wrap_up: seconds("WRAP_UP_SECS", self.wrap_up_secs)?,
            max_wait: seconds("MAX_WAIT_SECS", self.max_wait_secs)?,
            strategy,
        }
        .validate()
        .map_err(|e| {
            let variable = match e.field {
                "offer_timeout" => "OFFER_TIMEOUT_SECS",
                "max_no_answer" => "MAX_NO_ANSWER",
                "wrap_up" => "WRAP_UP_SECS",
                "max_wait" => "MAX_WAIT_SECS",
                _ => "MATCHING_STRATEGY",
            };
            error(variable, e.reason)
        })?;
        if self.match_tick_ms == 0 || self.match_tick_ms > 60_000 {
            return Err(error("MATCH_TICK_MS", "must be 1 to 60000"));
        }
        if self.ws_ping_secs == 0 || self.ws_ping_secs >= self.ws_idle_timeout_secs {
            return Err(error(
                "WS_PING_SECS",
                "must be at least 1 and shorter than WS_IDLE_TIMEOUT_SECS",
            ));
        }
        if !(1..=1000).contains(&self.ws_max_per_user) {
            return Err(error("WS_MAX_PER_USER", "must be 1 to 1000"));
        }
        if self.presence_grace_secs == 0 {
            return Err(error("PRESENCE_GRACE_SECS", "must be at least 1"));
        }
        if self.lease_ttl_secs == 0 || self.lease_ttl_secs > 3600 {
            return Err(error("LEASE_TTL_SECS", "must be 1 to 3600"));
        }
        if !(100..=3_600_000).contains(&self.metrics_interval_ms) {
            return Err(error("METRICS_INTERVAL_MS", "must be 100 to 3600000"));
        }
        if self.metrics_port != 0 && self.metrics_port == self.port {
            return Err(error(
                "METRICS_PORT",
                "must differ from PORT: /metrics is kept off the public listener",
            ));
        }
        let metrics_token = match self.metrics_token.as_deref() {
            Some(t) if t.len() < 16 => {
                return Err(error(
                    "METRICS_TOKEN",
                    "must be at least 16 characters when set",
                ));
            }
            t => t.map(Into::into),
        };
        for (variable, secs) in [
            (
                "HTTP_HEADER_READ_TIMEOUT_SECS",
                self.http_header_read_timeout_secs,
            ),
            (
                "HTTP_BODY_READ_TIMEOUT_SECS",
                self.http_body_read_timeout_secs,
            ),
            ("HTTP_REQUEST_TIMEOUT_SECS", self.http_request_timeout_secs),
        ] {
            if !(1..=3600).contains(&secs) {
                return Err(error(variable, "must be 1 to 3600"));
            }
        }

        let needs_data_dir = matches!(database, Database::Sqlite { .. })
            || matches!(jwt_secret, JwtSecret::File(_))
            || matches!(objects, ObjectsSettings::Local { .. });
        if needs_data_dir {
            check_writable(&self.data_dir)?;
        }

        let hsts = public_url.starts_with("https://");
        Ok(Settings {
            host: self.host.clone(),
            port: self.port,
            database,
            read_replica,
            migrate: self.migrate,
            app_role,
            data_dir: self.data_dir.clone(),
            jwt_secret,
            redis,
            service_name: self.service_name.clone(),
            public_url,
            objects,
            upload_abandon_after: Duration::from_secs(self.upload_abandon_secs),
            documents_per_session: self.documents_per_session,
            upload_urls_per_hour: self.upload_urls_per_hour,
            retention: chrono::TimeDelta::days(i64::from(self.retention_days)),
            log_format: match self.log_format {
                Some(LogFormatArg::Json) => LogFormat::Json,
                Some(LogFormatArg::Text) => LogFormat::Text,
                None => LogFormat::detect(),
            },
            log_level: self.log_level.clone(),
            metrics_format: match self.metrics_format {
                MetricsFormatArg::Prometheus => MetricsFormat::Prometheus,
                MetricsFormatArg::Emf => MetricsFormat::Emf,
            },
            metrics_interval: Duration::from_millis(self.metrics_interval_ms),
            http: HttpSettings {
                trust_forwarded_for: self.trust_forwarded_for,
                login_failures_per_account: self.login_max_failures_per_account,
                login_failures_per_address: self.login_max_failures_per_address,
                login_window: Duration::from_secs(self.login_window_secs),
                transport: dragoman_http::Transport {
                    header_read_timeout: Duration::from_secs(self.http_header_read_timeout_secs),
                    body_read_timeout: Duration::from_secs(self.http_body_read_timeout_secs),
                    request_timeout: Duration::from_secs(self.http_request_timeout_secs),
                },
                hsts,
                metrics_token,
                signup_limit: AddressLimit::signup(
                    self.signup_limit_per_address,
                    Duration::from_secs(self.signup_window_secs),
                ),
                refresh_families_per_user: self.refresh_families_per_user,
                password_budget,
                ..HttpSettings::default()
            },
            matching,
            ws: WsSettings {
                ping_interval: Duration::from_secs(self.ws_ping_secs),
                idle_timeout: Duration::from_secs(self.ws_idle_timeout_secs),
                max_connections: self.ws_max_connections,
                max_per_user: self.ws_max_per_user,
                presence_grace: Duration::from_secs(self.presence_grace_secs),
                ..WsSettings::default()
            },
            match_tick: Duration::from_millis(self.match_tick_ms),
            lease_ttl: Duration::from_secs(self.lease_ttl_secs),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            metrics_port: self.metrics_port,
        })
    }
}

/// DATA_DIR must exist (it is created) and accept a new file.
fn check_writable(dir: &Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        error(
            "DATA_DIR",
            format!("{} cannot be created: {e}", dir.display()),
        )
    })?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| {
        error(
            "DATA_DIR",
            format!("{} is not writable: {e}", dir.display()),
        )
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
