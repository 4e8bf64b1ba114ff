//! Telemetry: log lines and metrics, used by every layer.

pub mod emf;
pub mod emf_spec;
mod json;
mod metrics_recorder;

pub use emf::EmfWriter;
pub use json::SeedJson;
pub use metrics_recorder::{PrometheusHandle, install_metrics, record_pool_usage};

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, in the seed's shape: what CloudWatch Logs Insights queries.
    Json,
    /// Human-readable lines, for a person at a terminal.
    Text,
}

impl LogFormat {
    /// JSON unless standard output is a terminal.
    pub fn detect() -> Self {
        if std::io::stdout().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

/// Where metrics go besides `/metrics`, which is always served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsFormat {
    /// Prometheus only.
    Prometheus,
    /// Prometheus, and CloudWatch Embedded Metric Format lines on standard output.
    Emf,
}

/// Installs the process-wide log subscriber writing to standard output. `filter` is an
/// `EnvFilter` directive such as `info` or `info,dragoman_http=debug` (RUST_LOG overrides it).
pub fn init_logs(service: &str, format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(filter))?;
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(SeedJson::new(service)),
            )
            .try_init()?,
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().compact())
            .try_init()?,
    }
    Ok(())
}
