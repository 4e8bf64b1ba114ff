//! An estimate of how long a queued request will wait, for the client and for `/v1/availability`.
//!
//! The estimator is deliberately simple, so that an operator can check it by hand:
//!
//! ```text
//!   k  = the request's queue position (1 = next)
//!   a  = eligible interpreters available right now
//!   n  = eligible interpreters online (available, reserved, busy or in wrap-up), n ≥ a
//!   S  = recent mean session length + the wrap-up pause
//!   p  = recent match rate: the share of recent offers in the language that were accepted,
//!        clamped to [0.1, 1] (1 with no history)
//!
//!   wait = 0                              if k ≤ a
//!        = (k − a) · S / (n · p)           otherwise, rounded up to a whole second
//!   none                                  if n = 0, or if k > a and S is unknown
//! ```
//!
//! Why: the first `a` requests in line go to interpreters who are free now. Everyone behind them
//! waits for sessions to end. With `n` interpreters each finishing a session every `S` on
//! average, one frees up every `S / n`; a freed interpreter accepts the next request with
//! probability `p`, so matches happen every `S / (n · p)` and the request at position `k` waits
//! for `k − a` of them.
//!
//! Assumptions, each a known source of error that the benchmark measures against real waits:
//! sessions end independently and at a steady rate (the memoryless picture of an M/M/c queue,
//! where the wait for the j-th of n servers to free is j · S / n); every online interpreter could
//! take every request ahead (false when specializations or modalities differ); nobody ahead
//! cancels or expires (pessimistic); no request of higher priority arrives meanwhile (optimistic);
//! answering an offer takes no time (optimistic by up to an offer timeout per refusal); the time
//! already spent in the current sessions is ignored. `None` means "no estimate", shown as `null`:
//! with nobody online who could take the request there is no honest number to give.

use chrono::TimeDelta;

/// The numbers the estimate is made from, all for the request's language and needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitInputs {
    /// The request's queue position, 1 = next.
    pub queue_position: u32,
    /// Eligible interpreters `available` now.
    pub available: u32,
    /// Eligible interpreters online: available, reserved, busy or in wrap-up.
    pub online: u32,
    /// Recent mean session length; `None` when there were no recent sessions.
    pub mean_session: Option<TimeDelta>,
    /// The wrap-up pause after each session.
    pub wrap_up: TimeDelta,
    /// Accepted offers / offers made, recently; `None` when no offer was made recently.
    pub match_rate: Option<f64>,
}

/// The lowest match rate used, so that a bad spell does not produce an estimate of hours.
pub const MIN_MATCH_RATE: f64 = 0.1;

/// The estimated wait, in whole seconds (see the module documentation for the formula).
pub fn estimate_wait(inputs: &WaitInputs) -> Option<TimeDelta> {
    let online = inputs.online.max(inputs.available);
    if online == 0 {
        return None;
    }
    let k = inputs.queue_position.max(1);
    if k <= inputs.available {
        return Some(TimeDelta::zero());
    }
    let cycle = inputs.mean_session? + inputs.wrap_up.max(TimeDelta::zero());
    let cycle_s = (cycle.num_milliseconds().max(0) as f64) / 1000.0;
    let p = match inputs.match_rate {
        Some(p) if p.is_finite() => p.clamp(MIN_MATCH_RATE, 1.0),
        _ => 1.0,
    };
    let ahead = f64::from(k - inputs.available);
    let seconds = (ahead * cycle_s / (f64::from(online) * p)).ceil();
    // A day is far beyond any maximum wait; capping keeps the conversion exact.
    let seconds = seconds.min(86_400.0) as i64;
    Some(TimeDelta::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(queue_position: u32, available: u32, online: u32) -> WaitInputs {
        WaitInputs {
            queue_position,
            available,
            online,
            mean_session: Some(TimeDelta::seconds(590)),
            wrap_up: TimeDelta::seconds(10),
            match_rate: Some(0.5),
        }
    }

    fn secs(i: &WaitInputs) -> Option<i64> {
        estimate_wait(i).map(|w| w.num_seconds())
    }

    #[test]
    fn the_formula_on_worked_examples() {
        // (k − a) · S / (n · p) = (3 − 1) · 600 / (10 · 0.5) = 240 s.
        assert_eq!(secs(&inputs(3, 1, 10)), Some(240));
        // Served by someone free now.
        assert_eq!(secs(&inputs(2, 2, 10)), Some(0));
        // Rounded up: 1 · 600 / (7 · 1) = 85.7 s.
        let i = WaitInputs {
            match_rate: None,
            ..inputs(1, 0, 7)
        };
        assert_eq!(secs(&i), Some(86));
    }

    #[test]
    fn no_estimate_without_anyone_to_serve_or_any_history() {
        assert_eq!(secs(&inputs(1, 0, 0)), None);
        let no_sessions = WaitInputs {
            mean_session: None,
            ..inputs(2, 1, 3)
        };
        assert_eq!(secs(&no_sessions), None);
        let first_in_line = WaitInputs {
            mean_session: None,
            ..inputs(1, 1, 3)
        };
        assert_eq!(secs(&first_in_line), Some(0));
    }

    #[test]
    fn the_estimate_grows_with_position_and_shrinks_with_interpreters() {
        let mut last = 0;
        for k in 1..50 {
            let w = secs(&inputs(k, 0, 5)).expect("an estimate");
            assert!(w >= last);
            last = w;
        }
        assert!(secs(&inputs(10, 0, 20)) < secs(&inputs(10, 0, 5)));
        let awful = WaitInputs {
            match_rate: Some(0.0),
            ..inputs(2, 0, 1)
        };
        // The rate is clamped to 0.1: 2 · 600 / (1 · 0.1) = 12,000 s, not infinity.
        assert_eq!(secs(&awful), Some(12_000));
        let nonsense = WaitInputs {
            match_rate: Some(f64::NAN),
            ..inputs(1, 0, 1)
        };
        assert_eq!(secs(&nonsense), Some(600));
    }
}
