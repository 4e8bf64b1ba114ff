//! The clock port. Time is injected so that timeouts, TTLs and expiry can be tested on a fake
//! clock instead of by waiting.

use chrono::{DateTime, SubsecRound, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the precision both stores keep, so that a value written and
    /// read back compares equal to the one answered at once.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
