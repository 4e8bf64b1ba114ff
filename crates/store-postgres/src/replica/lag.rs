//! How far behind the primary a streaming replica is, in time.
//!
//! `now() - pg_last_xact_replay_timestamp()` on the replica is the usual measure, and it is wrong
//! whenever the primary is idle: it is the age of the last transaction replayed, which grows
//! although the replica has everything. So the lag is measured against the primary's own WAL
//! position, sampled at each check on this instance's clock:
//! - a replica whose replayed position is at or past where the primary is now has no lag;
//! - otherwise it holds at least what the primary had at the newest sample it has replayed past,
//!   so it lags at most the age of that sample; and at most the age of its last replayed
//!   transaction when the primary is busy (the timestamp is then accurate, and finer than the
//!   interval between checks). The smaller of the two is the lag.
//! - behind every sample kept, it lags at least the age of the oldest one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples kept: at a check every 500 ms, half a minute of the primary's history, far past any
/// useful DATABASE_READ_MAX_LAG_MS.
const SAMPLES: usize = 64;

/// The primary's WAL positions at recent checks, oldest first.
#[derive(Debug, Default)]
pub(crate) struct LagClock {
    samples: VecDeque<(Instant, u64)>,
}

impl LagClock {
    /// Records that the primary was at `primary` at `now`, and returns the lag of a replica that
    /// has replayed up to `replayed`, whose last replayed transaction committed `replay_age` ago
    /// (`None` when it has replayed none since it started).
    pub(crate) fn lag(
        &mut self,
        now: Instant,
        primary: u64,
        replayed: u64,
        replay_age: Option<Duration>,
    ) -> Duration {
        self.samples.push_back((now, primary));
        while self.samples.len() > SAMPLES {
            self.samples.pop_front();
        }
        if replayed >= primary {
            return Duration::ZERO;
        }
        match self.samples.iter().rev().find(|(_, at)| *at <= replayed) {
            Some((seen, _)) => {
                let by_position = now.saturating_duration_since(*seen);
                replay_age.map_or(by_position, |age| age.min(by_position))
            }
            None => {
                let oldest = self.samples.front().map_or(now, |(seen, _)| *seen);
                let at_least = now.saturating_duration_since(oldest);
                replay_age.map_or(at_least, |age| age.max(at_least))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn caught_up_is_no_lag_however_old_the_last_transaction() {
        let mut clock = LagClock::default();
        let t = Instant::now();
        // An idle primary: the last replayed transaction is an hour old, the positions agree.
        assert_eq!(clock.lag(t, 100, 100, Some(3_600_000 * MS)), Duration::ZERO);
    }

    #[test]
    fn one_write_on_an_idle_primary_is_not_an_hour_of_lag() {
        let mut clock = LagClock::default();
        let t = Instant::now();
        clock.lag(t, 100, 100, Some(3_600_000 * MS));
        // A write since the last check that the replica has not replayed yet: it holds what the
        // primary had 500 ms ago, so it lags at most that, not the hour since the write before.
        let lag = clock.lag(t + 500 * MS, 200, 100, Some(3_600_500 * MS));
        assert_eq!(lag, 500 * MS);
    }

    #[test]
    fn a_busy_primary_is_measured_by_the_replay_timestamp() {
        let mut clock = LagClock::default();
        let t = Instant::now();
        clock.lag(t, 100, 100, Some(MS));
        let lag = clock.lag(t + 500 * MS, 300, 250, Some(40 * MS));
        assert_eq!(lag, 40 * MS);
    }

    #[test]
    fn paused_replay_lags_more_at_every_check() {
        let mut clock = LagClock::default();
        let t = Instant::now();
        clock.lag(t, 100, 100, None);
        let mut last = Duration::ZERO;
        for i in 1..=6u32 {
            let lag = clock.lag(t + i * 500 * MS, 100 + u64::from(i), 100, None);
            assert!(lag > last, "lag {lag:?} after {last:?}");
            last = lag;
        }
        assert_eq!(last, 3000 * MS);
    }

    #[test]
    fn behind_every_sample_is_at_least_the_oldest_sample() {
        let mut clock = LagClock::default();
        let t = Instant::now();
        clock.lag(t, 100, 50, None);
        assert_eq!(clock.lag(t + 700 * MS, 110, 50, None), 700 * MS);
        assert_eq!(clock.lag(t + 900 * MS, 120, 50, Some(5000 * MS)), 5000 * MS);
    }
}
