//! The metrics work done once per interval rather than per request: the gauges read from the
//! store, the database pool gauges, the Prometheus recorder's upkeep and, with
//! METRICS_FORMAT=emf, the CloudWatch Embedded Metric Format lines.

use std::sync::Arc;
use std::time::Duration;

use dragoman_engine::Engine;
use dragoman_engine::gauges::StoreGauges;
use dragoman_telemetry::{EmfWriter, PrometheusHandle, record_pool_usage};
use tokio_util::sync::CancellationToken;

use crate::startup::StoreBackend;

/// Runs every `interval` until `stop` is cancelled, then writes the EMF lines of the last,
/// partial interval so that a stopping instance's requests are still counted.
pub(crate) async fn run(
    engine: Arc<Engine>,
    store: StoreBackend,
    recorder: PrometheusHandle,
    emf: Option<EmfWriter>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut gauges = StoreGauges::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = gauges.publish(&engine).await {
                    tracing::warn!(error = %e, "Reading the gauges failed; retrying at the next interval");
                }
                publish_pool_usage(&store);
                // Histograms buffer observations until rendered: drain them even if nobody
                // scrapes /metrics.
                recorder.run_upkeep();
                if let Some(emf) = &emf {
                    emf.flush();
                }
            }
        }
    }
    if let Some(emf) = &emf {
        emf.flush();
    }
}

fn publish_pool_usage(store: &StoreBackend) {
    match store {
        StoreBackend::Sqlite(s) => {
            for (pool, open, idle, max) in s.pool_usage() {
                record_pool_usage(pool, open, idle, max);
            }
        }
        StoreBackend::Postgres(s) => {
            let (open, idle) = s.pool_usage();
            record_pool_usage("postgres", open, idle, s.pool_max());
            if let Some((open, idle)) = s.replica_pool_usage() {
                // The replica pool is sized like the primary's (see DATABASE_READ_URL).
                record_pool_usage("postgres_replica", open, idle, s.pool_max());
            }
        }
    }
}
