//! Every setting as given: one environment variable and one command-line flag each, with its
//! default, before any check (`validate` turns them into [`Settings`](super::Settings)).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

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
