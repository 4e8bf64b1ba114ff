//! The clock port. Time is injected so that timeouts, TTLs and expiry can be tested on a fake
//! clock instead of by waiting.
//!
//! A clock gives two readings:
//! - [`Clock::now`], the wall time: what is stored, sent and compared with stored instants
//!   (offers' deadlines, token expiries, retention periods);
//! - [`Clock::instant`], a monotonic reading for what only measures elapsed time (the TTLs and
//!   windows the in-process adapters keep, a request's duration). It is on tokio's clock, the
//!   one tokio's timers run on: a test that pauses the runtime (`tokio::time::pause`) moves the
//!   readings and the timers together.
//!
//! Timers themselves (`tokio::time::sleep`, `timeout`, `interval`) stay tokio's: a test of a
//! timer pauses tokio's time; a test of a reading advances a [`ManualClock`].

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::time::Instant;

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The wall time.
    fn now(&self) -> DateTime<Utc>;

    /// A monotonic reading, for measuring how long something took or how long ago it was. Never
    /// goes back, whatever happens to the wall time.
    fn instant(&self) -> Instant;
}

/// The operating system's wall clock, and tokio's monotonic one.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the precision both stores keep, so that a value written and
    /// read back compares equal to the one answered at once.
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told: timeouts, expiries and wrap-ups are tested by advancing
/// it rather than by waiting.
///
/// Advancing moves both readings: the wall time stands still between advances, the monotonic
/// reading is tokio's plus everything advanced so far (so it never goes back, and under a paused
/// runtime it too moves only when told). A step back of the wall time leaves the monotonic
/// reading where it is.
#[derive(Debug)]
pub struct ManualClock {
    /// A std mutex: nothing awaits while holding it.
    state: std::sync::Mutex<Manual>,
}

#[derive(Debug)]
struct Manual {
    now: DateTime<Utc>,
    /// What the monotonic reading is ahead of tokio's.
    ahead: Duration,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            state: std::sync::Mutex::new(Manual {
                now: start.trunc_subsecs(6),
                ahead: Duration::ZERO,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Manual> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the wall time by `by`, and the monotonic reading too when `by` is forward.
    pub fn advance(&self, by: chrono::TimeDelta) {
        let mut state = self.state();
        state.now += by;
        if let Ok(forward) = by.to_std() {
            state.ahead += forward;
        }
    }

    /// [`advance`](Self::advance) by a [`Duration`], the unit TTLs and windows are given in.
    pub fn pass(&self, by: Duration) {
        let by = chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::MAX);
        self.advance(by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state().now
    }

    fn instant(&self) -> Instant {
        Instant::now() + self.state().ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_both_readings() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        let (wall, mono) = (clock.now(), clock.instant());
        clock.pass(Duration::from_secs(90));
        assert_eq!(clock.now() - wall, chrono::TimeDelta::seconds(90));
        assert!(clock.instant() - mono >= Duration::from_secs(90));
    }

    #[test]
    fn a_step_back_leaves_the_monotonic_reading() {
        let clock = ManualClock::new(Utc::now());
        clock.pass(Duration::from_secs(10));
        let mono = clock.instant();
        let wall = clock.now();
        clock.advance(chrono::TimeDelta::seconds(-5));
        assert_eq!(wall - clock.now(), chrono::TimeDelta::seconds(5));
        assert!(clock.instant() >= mono);
    }
}
