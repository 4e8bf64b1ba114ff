//! What an operator sees of the replica, caught in the test process: the Prometheus rendering of
//! the metrics and the log lines. Both are process-wide, installed once; tests compare before and
//! after (they run one at a time, see `ReplicaLock`).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("the test's metrics recorder")
    })
}

/// The value of the series whose rendered name and labels start with `series`, 0 if absent.
pub fn metric(series: &str) -> f64 {
    prometheus()
        .render()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0.0)
}

/// Everything recorded, for a failure's message.
pub fn render() -> String {
    prometheus().render()
}

/// Read replica fallbacks counted with `cause`.
pub fn fallbacks(cause: &str) -> f64 {
    metric(&format!(
        "dragoman_db_replica_fallbacks_total{{cause=\"{cause}\"}}"
    ))
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    })
}

/// Starts catching metrics and logs (idempotent); returns where the log is now.
pub fn start() -> usize {
    prometheus();
    captured().0.lock().map(|l| l.len()).unwrap_or(0)
}

/// Log lines written since `mark` that contain `text`.
pub fn lines_since(mark: usize, text: &str) -> usize {
    let logs = captured().0.lock().map(|l| l.clone()).unwrap_or_default();
    String::from_utf8_lossy(&logs[mark.min(logs.len())..])
        .lines()
        .filter(|l| l.contains(text))
        .count()
}
