//! Whether the replica may serve reads now, as the lag monitor last found it, with the log line
//! and metrics that tell an operator.
//!
//! One log line per change of state (healthy, lagging, down), never one per read: a replica that
//! is down for an hour under load must not write a line per request. Per read there is only the
//! counter `dragoman_db_replica_fallbacks_total{cause}` (`down`, `lag`, `behind`: it had not
//! replayed the reader's writes in time, `busy`: no free replica connection, `error`: the replica
//! failed the query); the gauge `dragoman_db_replica_lag_ms` is the lag measured at each check,
//! and `dragoman_db_replica_up` is 1 while reads go to it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// What the last check (or a failed read) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum State {
    /// Answering, and at most DATABASE_READ_MAX_LAG_MS behind: reads go to it.
    Healthy = 0,
    /// Answering, but further behind: reads go to the primary.
    Lagging = 1,
    /// Not answering, or no longer a standby: reads go to the primary.
    Down = 2,
}

impl State {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => State::Healthy,
            1 => State::Lagging,
            _ => State::Down,
        }
    }

    /// The `cause` label of a read that falls back because of this state.
    pub(crate) fn cause(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Lagging => "lag",
            State::Down => "down",
        }
    }
}

/// The replica's state, read on every routed read (one atomic load) and written by the monitor.
#[derive(Debug)]
pub(crate) struct Health {
    state: AtomicU8,
    /// Serializes changes so that exactly one log line marks each (a std Mutex: nothing awaits
    /// while it is held).
    changing: Mutex<()>,
}

impl Health {
    pub(crate) fn new(initial: State) -> Self {
        metrics::gauge!("dragoman_db_replica_up")
            .set(f64::from(u8::from(initial == State::Healthy)));
        Self {
            state: AtomicU8::new(initial as u8),
            changing: Mutex::new(()),
        }
    }

    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// A check measured `lag`: healthy within `max_lag`, lagging beyond.
    pub(crate) fn measured(&self, lag: Duration, max_lag: Duration, detail: &str) {
        let ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
        // Precision beyond 2^53 ms does not matter for a gauge.
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("dragoman_db_replica_lag_ms").set(ms as f64);
        let to = if lag <= max_lag {
            State::Healthy
        } else {
            State::Lagging
        };
        self.set(to, || {
            format!(
                "{ms} ms behind the primary (DATABASE_READ_MAX_LAG_MS {}; {detail})",
                max_lag.as_millis()
            )
        });
    }

    /// A check or a read could not use the replica.
    pub(crate) fn down(&self, cause: &dyn std::fmt::Display) {
        self.set(State::Down, || cause.to_string());
    }

    fn set(&self, to: State, detail: impl FnOnce() -> String) {
        let Ok(_changing) = self.changing.lock() else {
            return;
        };
        let from = State::from_u8(self.state.swap(to as u8, Ordering::AcqRel));
        // At every check, not only on a change: a recorder installed after the store connected
        // (the binary's is) still gets the value.
        metrics::gauge!("dragoman_db_replica_up").set(f64::from(u8::from(to == State::Healthy)));
        if from == to {
            return;
        }
        let detail = detail();
        match to {
            State::Healthy => {
                tracing::info!(replica = "healthy", detail = %detail, "Read replica usable again: reads go to it");
            }
            State::Lagging => {
                tracing::warn!(replica = "lagging", detail = %detail, "Read replica lags: reads go to the primary");
            }
            State::Down => {
                tracing::warn!(replica = "down", detail = %detail, "Read replica unreachable: reads go to the primary");
            }
        }
    }
}

/// Counts one read sent to the primary instead of the replica.
pub(crate) fn fell_back(cause: &'static str) {
    metrics::counter!("dragoman_db_replica_fallbacks_total", "cause" => cause).increment(1);
}
