//! CloudWatch Embedded Metric Format: the key metrics as JSON log lines, so that CloudWatch has
//! them on Fargate without an agent (METRICS_FORMAT=emf).
//!
//! The lines are fed by the same `metrics` calls that feed Prometheus: the recorder installed by
//! [`crate::install_metrics`] passes three metrics through to a shadow here while EMF is on:
//!
//! | Prometheus | EMF (namespace `Dragoman`, dimension `ServiceName`) |
//! | --- | --- |
//! | `http_requests_total` | `RequestCount` and, for status 5xx, `Http5xxCount` (Count) |
//! | `dragoman_match_time_seconds` | `MatchTime` (Milliseconds), every observation |
//! | `dragoman_jobs_dead` | `DeadJobs` (Count), the latest value summed over its label sets |
//!
//! Nothing is written on the request path: a request costs two atomic additions and a match one
//! push onto a vector. [`EmfWriter::flush`] runs once per interval and writes one line with the
//! counts of the interval (also when they are zero, so that an idle service still reports), and
//! the match times as arrays of at most 100 values per line (the specification's limit), which
//! CloudWatch aggregates into exact percentiles like individual lines would.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{SecondsFormat, TimeZone, Utc};
use metrics::{CounterFn, GaugeFn, HistogramFn, Key};
use serde_json::{Map, Value, json};

/// The CloudWatch namespace the monitoring module's alarms read.
pub const NAMESPACE: &str = "Dragoman";

/// The most values one EMF metric may carry in an array.
const MAX_VALUES_PER_LINE: usize = 100;

/// Match times kept per interval at most; beyond, observations are counted in Prometheus only.
/// Far above what one instance matches in an interval, it bounds memory if flushing stalls.
const MAX_MATCH_TIMES: usize = 10_000;

static ENABLED: AtomicBool = AtomicBool::new(false);
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static SERVER_ERRORS: AtomicU64 = AtomicU64::new(0);
static MATCH_TIMES_MS: Mutex<Vec<f64>> = Mutex::new(Vec::new());
/// One slot per label set of `dragoman_jobs_dead`; a std mutex since nothing awaits under it.
static DEAD_JOBS: LazyLock<Mutex<HashMap<Key, Arc<Mutex<f64>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Counts requests (and 5xx answers) next to Prometheus's counter.
pub(crate) struct RequestTee {
    pub(crate) inner: metrics::Counter,
    pub(crate) server_error: bool,
}

impl CounterFn for RequestTee {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        if enabled() {
            REQUESTS.fetch_add(value, Ordering::Relaxed);
            if self.server_error {
                SERVER_ERRORS.fetch_add(value, Ordering::Relaxed);
            }
        }
    }
    fn absolute(&self, value: u64) {
        self.inner.absolute(value);
    }
}

/// Keeps match times (observed in seconds) in milliseconds for the next flush.
pub(crate) struct MatchTimeTee {
    pub(crate) inner: metrics::Histogram,
}

impl HistogramFn for MatchTimeTee {
    fn record(&self, value: f64) {
        self.inner.record(value);
        if enabled() {
            let mut times = MATCH_TIMES_MS.lock().unwrap_or_else(|p| p.into_inner());
            if times.len() < MAX_MATCH_TIMES {
                times.push(value * 1000.0);
            }
        }
    }
}

/// Follows the dead-letter gauge; kept whether or not EMF is on, since a gauge is a level.
pub(crate) struct DeadJobsTee {
    inner: metrics::Gauge,
    slot: Arc<Mutex<f64>>,
}

impl DeadJobsTee {
    pub(crate) fn new(key: &Key, inner: metrics::Gauge) -> Self {
        let slot = DEAD_JOBS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        Self { inner, slot }
    }

    fn update(&self, f: impl FnOnce(f64) -> f64) {
        let mut v = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        *v = f(*v);
    }
}

impl GaugeFn for DeadJobsTee {
    fn increment(&self, value: f64) {
        self.inner.increment(value);
        self.update(|v| v + value);
    }
    fn decrement(&self, value: f64) {
        self.inner.decrement(value);
        self.update(|v| v - value);
    }
    fn set(&self, value: f64) {
        self.inner.set(value);
        self.update(|_| value);
    }
}

/// What one interval gathered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interval {
    pub requests: u64,
    pub server_errors: u64,
    pub match_times_ms: Vec<f64>,
    /// None until something reported the dead-letter gauge (no job queue in this process).
    pub dead_jobs: Option<f64>,
}

/// Writes the EMF lines of one process. Creating it turns the shadow metrics on.
#[derive(Debug, Clone)]
pub struct EmfWriter {
    service: String,
}

impl EmfWriter {
    /// Starts gathering; `service` is the ServiceName dimension (SERVICE_NAME).
    pub fn start(service: &str) -> Self {
        ENABLED.store(true, Ordering::Relaxed);
        Self {
            service: service.to_owned(),
        }
    }

    /// Takes what was gathered since the last call.
    pub fn take() -> Interval {
        let dead = DEAD_JOBS.lock().unwrap_or_else(|p| p.into_inner());
        let dead_jobs = (!dead.is_empty()).then(|| {
            dead.values()
                .map(|s| *s.lock().unwrap_or_else(|p| p.into_inner()))
                .sum()
        });
        drop(dead);
        Interval {
            requests: REQUESTS.swap(0, Ordering::Relaxed),
            server_errors: SERVER_ERRORS.swap(0, Ordering::Relaxed),
            match_times_ms: std::mem::take(
                &mut *MATCH_TIMES_MS.lock().unwrap_or_else(|p| p.into_inner()),
            ),
            dead_jobs,
        }
    }

    /// Writes the lines of the interval ending now to standard output, each with one write so
    /// that they never interleave with log lines.
    pub fn flush(&self) {
        let lines = self.render(&Self::take(), Utc::now().timestamp_millis());
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for line in lines {
            let mut text = line.to_string();
            text.push('\n');
            // Standard output gone (a closed pipe) leaves nothing useful to do with the error.
            let _ = out.write_all(text.as_bytes());
        }
        let _ = out.flush();
    }

    /// The EMF documents of `interval`, stamped `timestamp_ms` (milliseconds since the epoch).
    /// Each also carries the fields of a log line (level, message, timestamp, service), so every
    /// line of standard output has the same shape.
    pub fn render(&self, interval: &Interval, timestamp_ms: i64) -> Vec<Value> {
        let mut counts = vec![("RequestCount", json!(interval.requests), "Count")];
        counts.push(("Http5xxCount", json!(interval.server_errors), "Count"));
        if let Some(dead) = interval.dead_jobs {
            counts.push(("DeadJobs", json!(dead), "Count"));
        }
        let mut lines = vec![self.document(timestamp_ms, &counts)];
        for chunk in interval.match_times_ms.chunks(MAX_VALUES_PER_LINE) {
            let values: Vec<f64> = chunk
                .iter()
                .map(|v| (v * 1000.0).round() / 1000.0)
                .collect();
            lines.push(self.document(
                timestamp_ms,
                &[("MatchTime", json!(values), "Milliseconds")],
            ));
        }
        lines
    }

    fn document(&self, timestamp_ms: i64, metrics: &[(&str, Value, &str)]) -> Value {
        let definitions: Vec<Value> = metrics
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
            .collect();
        let timestamp = Utc
            .timestamp_millis_opt(timestamp_ms)
            .single()
            .unwrap_or_else(Utc::now)
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut line = Map::new();
        line.insert("level".into(), "info".into());
        line.insert("message".into(), "Metrics".into());
        line.insert("timestamp".into(), timestamp.into());
        line.insert("service".into(), self.service.clone().into());
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["ServiceName"]],
                    "Metrics": definitions,
                }],
            }),
        );
        line.insert("ServiceName".into(), self.service.clone().into());
        for (name, value, _) in metrics {
            line.insert((*name).into(), value.clone());
        }
        Value::Object(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_match_times_render_as_emf_documents() {
        let writer = EmfWriter {
            service: "api-service".into(),
        };
        let interval = Interval {
            requests: 12,
            server_errors: 1,
            match_times_ms: (0..150).map(|i| 1000.0 + f64::from(i)).collect(),
            dead_jobs: Some(2.0),
        };
        let lines = writer.render(&interval, 1_764_216_000_123);
        assert_eq!(lines.len(), 3, "counts, then 100 + 50 match times");
        for line in &lines {
            crate::emf_spec::check(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(line["ServiceName"], "api-service");
            assert_eq!(line["_aws"]["Timestamp"], 1_764_216_000_123_i64);
            assert_eq!(line["timestamp"], "2025-11-27T04:00:00.123Z");
        }
        assert_eq!(lines[0]["RequestCount"], 12);
        assert_eq!(lines[0]["Http5xxCount"], 1);
        assert_eq!(lines[0]["DeadJobs"], 2.0);
        assert_eq!(lines[1]["MatchTime"].as_array().map(Vec::len), Some(100));
        assert_eq!(lines[2]["MatchTime"].as_array().map(Vec::len), Some(50));
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "MatchTime", "Unit": "Milliseconds"})
        );
    }

    #[test]
    fn an_idle_interval_still_reports_zero_counts() {
        let writer = EmfWriter {
            service: "dragoman".into(),
        };
        let lines = writer.render(&Interval::default(), 0);
        assert_eq!(lines.len(), 1);
        crate::emf_spec::check(&lines[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lines[0]["RequestCount"], 0);
        assert!(lines[0].get("DeadJobs").is_none());
    }
}
