//! Peers for the benchmarks in BENCHMARKS.md (run by `benches/me.sh`).
//!
//! - `bare-me`: a bare axum server with one route, GET /v1/me, answering the same JSON shape as
//!   Dragoman's /v1/me with fixed values and no middleware: the baseline Dragoman is measured
//!   against.
//! - `login-cost`: the time one password hash and one password check take with Dragoman's
//!   Argon2 parameters.
//! - `ws-idle`, `ws-fanout`: WebSocket clients for the real-time benchmarks (benches/ws-idle.sh,
//!   benches/ws-fanout.sh); [`fanout`] holds the parts of the latter that can be tested alone.

use std::time::Duration;

pub mod fanout;

/// Summary statistics of a series of durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub max_ms: f64,
}

/// The mean, median and maximum of `samples`; `None` when there are none.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let mean_ms = ms.iter().sum::<f64>() / n as f64;
    let p50_ms = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    let max_ms = ms[n - 1];
    Some(Summary {
        mean_ms,
        p50_ms,
        max_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_odd_and_even_series() {
        let odd = [30, 10, 20].map(Duration::from_millis);
        assert_eq!(
            summarize(&odd),
            Some(Summary {
                mean_ms: 20.0,
                p50_ms: 20.0,
                max_ms: 30.0
            })
        );
        let even = [40, 10, 20, 30].map(Duration::from_millis);
        let s = summarize(&even).expect("four samples");
        assert_eq!((s.mean_ms, s.p50_ms, s.max_ms), (25.0, 25.0, 40.0));
        assert_eq!(summarize(&[]), None);
    }
}
