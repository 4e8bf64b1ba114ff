//! The process-wide Prometheus recorder, with the EMF shadow of three of its metrics.

use std::sync::{Arc, OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use crate::emf::{DeadJobsTee, MatchTimeTee, RequestTee};

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
    if metrics::set_global_recorder(Tee(recorder)).is_ok() {
        let _ = HANDLE.set(handle);
    }
    HANDLE
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("another metrics recorder was installed in this process"))
}

/// Prometheus's recorder, handing the handles of the metrics EMF reports a shadow as well.
/// Registration is where the names are compared, not each observation.
struct Tee(PrometheusRecorder);

impl Recorder for Tee {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let inner = self.0.register_counter(key, metadata);
        if key.name() != "http_requests_total" {
            return inner;
        }
        let server_error = key
            .labels()
            .any(|l| l.key() == "status" && l.value().starts_with('5'));
        Counter::from_arc(Arc::new(RequestTee {
            inner,
            server_error,
        }))
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        let inner = self.0.register_gauge(key, metadata);
        if key.name() != "dragoman_jobs_dead" {
            return inner;
        }
        Gauge::from_arc(Arc::new(DeadJobsTee::new(key, inner)))
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let inner = self.0.register_histogram(key, metadata);
        if key.name() != "dragoman_match_time_seconds" {
            return inner;
        }
        Histogram::from_arc(Arc::new(MatchTimeTee { inner }))
    }
}

/// Sets the database pool gauges of one pool: `dragoman_db_pool_connections{pool,state}` with
/// `state` `in_use` or `idle`, and `dragoman_db_pool_max_connections{pool}`.
pub fn record_pool_usage(pool: &'static str, open: u32, idle: usize, max: u32) {
    let idle = idle as f64;
    let in_use = (f64::from(open) - idle).max(0.0);
    metrics::gauge!("dragoman_db_pool_connections", "pool" => pool, "state" => "in_use")
        .set(in_use);
    metrics::gauge!("dragoman_db_pool_connections", "pool" => pool, "state" => "idle").set(idle);
    metrics::gauge!("dragoman_db_pool_max_connections", "pool" => pool).set(f64::from(max));
}
