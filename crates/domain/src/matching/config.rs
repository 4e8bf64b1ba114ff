//! The settings of matching, each with the default that API.md promises.
//!
//! They live in one value so that a deployment can tune them (a hospital may want a longer offer
//! timeout than a call centre) and so that tests can shrink them, while the rules that use them
//! stay the same. The delivery layer reads them from the environment; this crate only checks that
//! they make sense together.

use chrono::TimeDelta;

use super::Strategy;
use crate::Invalid;

/// How matching behaves in this deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchingConfig {
    /// How long an offer waits for an answer before it goes to the next candidate. Long enough
    /// to pick up a phone, short enough that a client is not kept waiting by one absent person.
    pub offer_timeout: TimeDelta,
    /// How many offers in a row an interpreter may let expire before being set `away`
    /// (`max-no-answer` in FreeSWITCH's call centre): someone who does not answer is probably
    /// not at the desk, and every further offer would cost a client the offer timeout.
    pub max_no_answer: u32,
    /// The pause after a session before the interpreter is `available` again, to write notes and
    /// breathe; the interpreter may cut it short.
    pub wrap_up: TimeDelta,
    /// How long a request may stay unmatched before it expires and the client is told, rather
    /// than leaving someone at a bedside waiting for an answer that will not come.
    pub max_wait: TimeDelta,
    /// The order in which eligible interpreters are offered a request.
    pub strategy: Strategy,
}

impl MatchingConfig {
    pub const DEFAULT_OFFER_TIMEOUT: TimeDelta = TimeDelta::seconds(20);
    pub const DEFAULT_MAX_NO_ANSWER: u32 = 3;
    pub const DEFAULT_WRAP_UP: TimeDelta = TimeDelta::seconds(10);
    pub const DEFAULT_MAX_WAIT: TimeDelta = TimeDelta::seconds(300);

    /// Refuses settings under which matching could not work: an offer that expires at once, an
    /// interpreter set away before any offer could expire, a negative pause, a request that
    /// expires on arrival.
    pub fn validate(self) -> Result<Self, Invalid> {
        if self.offer_timeout <= TimeDelta::zero() {
            return Err(Invalid::new(
                "offer_timeout",
                "must be more than zero seconds",
            ));
        }
        if self.max_no_answer == 0 {
            return Err(Invalid::new("max_no_answer", "must be at least 1"));
        }
        if self.wrap_up < TimeDelta::zero() {
            return Err(Invalid::new("wrap_up", "must not be negative"));
        }
        if self.max_wait <= TimeDelta::zero() {
            return Err(Invalid::new("max_wait", "must be more than zero seconds"));
        }
        Ok(self)
    }
}

impl Default for MatchingConfig {
    fn default() -> Self {
        Self {
            offer_timeout: Self::DEFAULT_OFFER_TIMEOUT,
            max_no_answer: Self::DEFAULT_MAX_NO_ANSWER,
            wrap_up: Self::DEFAULT_WRAP_UP,
            max_wait: Self::DEFAULT_MAX_WAIT,
            strategy: Strategy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_api_contract() {
        let c = MatchingConfig::default();
        assert_eq!(c.offer_timeout.num_seconds(), 20);
        assert_eq!(c.max_no_answer, 3);
        assert_eq!(c.wrap_up.num_seconds(), 10);
        assert_eq!(c.max_wait.num_seconds(), 300);
        assert_eq!(c.strategy, Strategy::LongestIdleFirst);
        assert_eq!(c.validate(), Ok(c));
    }

    #[test]
    fn unworkable_settings_are_refused() {
        let c = MatchingConfig::default();
        let bad = [
            MatchingConfig {
                offer_timeout: TimeDelta::zero(),
                ..c
            },
            MatchingConfig {
                max_no_answer: 0,
                ..c
            },
            MatchingConfig {
                wrap_up: TimeDelta::seconds(-1),
                ..c
            },
            MatchingConfig {
                max_wait: TimeDelta::zero(),
                ..c
            },
        ];
        for b in bad {
            assert!(b.validate().is_err(), "{b:?} should be refused");
        }
        let no_pause = MatchingConfig {
            wrap_up: TimeDelta::zero(),
            ..c
        };
        assert!(no_pause.validate().is_ok());
    }
}
