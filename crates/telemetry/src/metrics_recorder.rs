//! The process-wide Prometheus recorder.

use std::sync::OnceLock;

pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds: 5 ms to 10 s, for HTTP request latency.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Seconds: 100 ms to 120 s, for the time from a request to its match (the seed's alarm is on a
/// p95 over 45 s).
const MATCH_TIME_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0,
];

/// Installs the recorder once per process and returns its handle; later calls return the same
/// handle. Several application instances in one process (as in tests) share it.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("http_request_duration_seconds".into()),
            LATENCY_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("dragoman_match_time_seconds".into()),
            MATCH_TIME_BUCKETS,
        )?
        .build_recorder();
    let handle = recorder.handle();
    // Only the first caller installs; a racing second one keeps the first handle.
    if metrics::set_global_recorder(recorder).is_ok() {
        let _ = HANDLE.set(handle);
    }
    HANDLE
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("another metrics recorder was installed in this process"))
}
