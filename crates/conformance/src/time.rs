//! How a suite lets time pass for the implementation under test: TTLs and windows are tested
//! by advancing a manual clock where the implementation reads one (in process), and by waiting
//! only where the time is a server's (Redis keeps its own TTLs, which no test can move).

use std::sync::Arc;
use std::time::Duration;

use dragoman_ports::{Clock, ManualClock};

/// The time a suite runs on.
#[derive(Debug, Clone)]
pub enum Time {
    /// The implementation reads this clock: advancing it is time passing, at once.
    Manual(Arc<ManualClock>),
    /// The implementation's time is a server's: only waiting makes it pass.
    Real,
}

impl Time {
    /// A manual clock for the implementation, and the suite's handle on it.
    pub fn manual() -> (Arc<dyn Clock>, Self) {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        (clock.clone(), Self::Manual(clock))
    }

    /// Lets `by` pass.
    pub async fn pass(&self, by: Duration) {
        match self {
            Self::Manual(clock) => clock.pass(by),
            Self::Real => tokio::time::sleep(by).await,
        }
    }

    /// The step a suite measures its TTLs in: long on a manual clock, so that the real time a
    /// test takes (a loaded machine's pauses included) never counts, and short where the suite
    /// must wait for real.
    pub fn step(&self) -> Duration {
        match self {
            Self::Manual(_) => Duration::from_secs(20),
            Self::Real => Duration::from_millis(100),
        }
    }
}
