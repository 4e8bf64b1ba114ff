//! The checks: [`Config::validate`] turns the settings as given into [`Settings`], or names the
//! first unusable one, in the order the variables are checked.

use std::path::Path;
use std::time::Duration;

use chrono::TimeDelta;
use dragoman_domain::matching::{MatchingConfig, Strategy};
use dragoman_http::HttpSettings;
use dragoman_http::auth::{AddressLimit, PasswordBudget};
use dragoman_http::ws::WsSettings;
use dragoman_telemetry::{LogFormat, MetricsFormat};

use super::{
    Config, ConfigError, Database, JwtSecret, LogFormatArg, MetricsFormatArg, ObjectsSettings,
    RedisSettings, Settings, error,
};

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

#[cfg(test)]
mod tests {
    //! The checks the binary's tests (tests/cli.rs) do not reach, on the command line alone:
    //! every value a check reads is given as a flag, so the environment cannot change them.

    use clap::Parser;

    use super::*;
    use crate::config::{Cli, Database};

    /// The settings from these flags, after `--data-dir` (a fresh directory) and `--port 3000`.
    fn validate(flags: &[&str]) -> (Result<Settings, ConfigError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().to_str().expect("a UTF-8 path").to_owned();
        let mut args = vec!["dragoman", "--data-dir", &data, "--port", "3000"];
        args.extend_from_slice(flags);
        let cli = Cli::try_parse_from(args).expect("flags clap accepts");
        (cli.config.validate(), dir)
    }

    fn refused(flags: &[&str]) -> &'static str {
        match validate(flags).0 {
            Ok(_) => panic!("{flags:?} was accepted"),
            Err(e) => e.variable,
        }
    }

    #[test]
    fn the_defaults_are_one_machine() {
        let (settings, dir) = validate(&["--metrics-port", "9100"]);
        let settings = settings.expect("the defaults are valid");
        assert!(
            matches!(&settings.database, Database::Sqlite { path } if path == &dir.path().join("dragoman.sqlite"))
        );
        assert!(settings.redis.is_none());
        assert!(
            matches!(&settings.jwt_secret, JwtSecret::File(path) if path == &dir.path().join("jwt-secret"))
        );
        assert_eq!(
            settings.objects,
            ObjectsSettings::Local {
                dir: dir.path().join("objects")
            }
        );
        assert_eq!(settings.public_url, "http://localhost:3000");
    }

    #[test]
    fn redis_settings_keep_the_cluster_flag_and_prefix() {
        let (settings, _dir) = validate(&[
            "--redis-url",
            "rediss://:secret@127.0.0.1:6390",
            "--redis-cluster",
            "--redis-prefix",
            "staging",
            "--jwt-secret",
            "a fleet shares one signing secret of 32+ bytes",
        ]);
        let redis = settings.expect("valid").redis.expect("Redis settings");
        assert!(redis.cluster);
        assert_eq!(redis.prefix, "staging");
        assert_eq!(
            refused(&[
                "--redis-url",
                "http://127.0.0.1:6379",
                "--jwt-secret",
                "a fleet shares one signing secret of 32+ bytes",
            ]),
            "REDIS_URL"
        );
        assert_eq!(refused(&["--redis-cluster"]), "REDIS_CLUSTER");
    }

    #[test]
    fn s3_needs_a_bucket_name() {
        assert_eq!(
            refused(&["--s3-endpoint", "http://127.0.0.1:9000"]),
            "S3_BUCKET"
        );
        assert_eq!(refused(&["--s3-bucket", "Not_A_Bucket"]), "S3_BUCKET");
        assert_eq!(
            refused(&["--s3-bucket", "uploads", "--s3-endpoint", "ftp://x"]),
            "S3_ENDPOINT"
        );
        let (settings, _dir) = validate(&[
            "--s3-bucket",
            "uploads",
            "--s3-endpoint",
            "http://127.0.0.1:9000/",
            "--aws-region",
            "eu-west-1",
        ]);
        assert_eq!(
            settings.expect("valid").objects,
            ObjectsSettings::S3 {
                bucket: "uploads".to_owned(),
                endpoint: Some("http://127.0.0.1:9000".to_owned()),
                region: "eu-west-1".to_owned(),
                static_credentials: None,
            }
        );
    }

    #[test]
    fn listeners_and_websocket_timers_are_consistent() {
        assert_eq!(refused(&["--metrics-port", "3000"]), "METRICS_PORT");
        assert_eq!(
            refused(&["--ws-ping-secs", "120", "--ws-idle-timeout-secs", "120"]),
            "WS_PING_SECS"
        );
        assert_eq!(refused(&["--metrics-token", "short"]), "METRICS_TOKEN");
        assert_eq!(refused(&["--match-tick-ms", "0"]), "MATCH_TICK_MS");
    }
}
