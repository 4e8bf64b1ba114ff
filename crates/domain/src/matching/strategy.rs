//! The order in which eligible interpreters are offered a request.
//!
//! Eligibility says who *may* take a request; the strategy says who is asked *first*. It is a
//! per-deployment choice, because fairness means different things to different services: the
//! default, longest idle first (FreeSWITCH and Twilio's longest-idle-agent), spreads work by
//! rest time; round robin spreads offers evenly; least talk time today evens out paid minutes.
//!
//! Every candidate carries the values that placed it ([`OrderingKey`]), so an explanation can
//! show *why* one interpreter came before another, not just that it did. Every strategy ends
//! with the interpreter id as a last tie-break, so the same snapshot always yields the same
//! order on every instance.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::InterpreterSnapshot;
use crate::{Invalid, UserId};

/// A way of ordering eligible interpreters, chosen by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum Strategy {
    /// The interpreter available the longest goes first; ties go to fewer declines today.
    #[default]
    #[serde(rename = "longest_idle")]
    LongestIdleFirst,
    /// The interpreter offered a request least recently goes first (never offered: first of all).
    #[serde(rename = "round_robin")]
    RoundRobin,
    /// The interpreter with the least session time today goes first.
    #[serde(rename = "least_talk_time")]
    LeastTalkTimeToday,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::LongestIdleFirst,
        Strategy::RoundRobin,
        Strategy::LeastTalkTimeToday,
    ];

    /// The name used in configuration and in stored explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::LongestIdleFirst => "longest_idle",
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastTalkTimeToday => "least_talk_time",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                Invalid::new(
                    "strategy",
                    "must be longest_idle, round_robin or least_talk_time",
                )
            })
    }

    /// The values this strategy orders the interpreter by.
    pub fn key(self, interpreter: &InterpreterSnapshot) -> OrderingKey {
        match self {
            Strategy::LongestIdleFirst => OrderingKey::LongestIdle {
                idle_since: interpreter.idle_since,
                declines_today: interpreter.declines_today,
            },
            Strategy::RoundRobin => OrderingKey::RoundRobin {
                last_offered_at: interpreter.last_offered_at,
                idle_since: interpreter.idle_since,
            },
            Strategy::LeastTalkTimeToday => OrderingKey::LeastTalkTime {
                talk_time_today_s: interpreter.talk_time_today.num_seconds(),
                idle_since: interpreter.idle_since,
            },
        }
    }

    /// Puts candidates in offer order: first is offered first.
    pub fn rank(self, candidates: &mut [Candidate]) {
        candidates.sort_by(|a, b| {
            a.ordering
                .compare(&b.ordering)
                .then(a.interpreter_id.cmp(&b.interpreter_id))
        });
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The values that placed a candidate, tagged with the strategy that used them.
///
/// Secondary values are there because the primary one ties often: at the start of a day every
/// talk time is zero and nobody has been offered anything, and then the longest idle goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum OrderingKey {
    /// Earlier `idle_since` first, then fewer `declines_today`.
    LongestIdle {
        idle_since: DateTime<Utc>,
        declines_today: u32,
    },
    /// Never offered first, then earlier `last_offered_at`, then earlier `idle_since`.
    RoundRobin {
        last_offered_at: Option<DateTime<Utc>>,
        idle_since: DateTime<Utc>,
    },
    /// Less `talk_time_today_s` first, then earlier `idle_since`.
    LeastTalkTime {
        talk_time_today_s: i64,
        idle_since: DateTime<Utc>,
    },
}

impl OrderingKey {
    /// `Less` when `self` goes first. Keys of different strategies never meet in one ranking;
    /// should they, they compare equal and the id decides.
    pub fn compare(&self, other: &Self) -> Ordering {
        use OrderingKey::*;
        match (self, other) {
            (
                LongestIdle {
                    idle_since: a,
                    declines_today: da,
                },
                LongestIdle {
                    idle_since: b,
                    declines_today: db,
                },
            ) => a.cmp(b).then(da.cmp(db)),
            (
                RoundRobin {
                    last_offered_at: a,
                    idle_since: ia,
                },
                RoundRobin {
                    last_offered_at: b,
                    idle_since: ib,
                },
            ) => a.cmp(b).then(ia.cmp(ib)), // `None` sorts before any `Some`.
            (
                LeastTalkTime {
                    talk_time_today_s: a,
                    idle_since: ia,
                },
                LeastTalkTime {
                    talk_time_today_s: b,
                    idle_since: ib,
                },
            ) => a.cmp(b).then(ia.cmp(ib)),
            _ => Ordering::Equal,
        }
    }
}

/// An interpreter who may take a request, with the values that placed it in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub interpreter_id: UserId,
    pub ordering: OrderingKey,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::fixtures::{at, interpreter, user};
    use chrono::TimeDelta;

    fn ranked(strategy: Strategy, pool: &[InterpreterSnapshot]) -> Vec<UserId> {
        let mut c: Vec<Candidate> = pool
            .iter()
            .map(|i| Candidate {
                interpreter_id: i.id,
                ordering: strategy.key(i),
            })
            .collect();
        strategy.rank(&mut c);
        c.into_iter().map(|c| c.interpreter_id).collect()
    }

    #[test]
    fn longest_idle_first_then_fewer_declines_then_id() {
        let mut pool = vec![
            interpreter(4, 10),
            interpreter(3, 5),
            interpreter(2, 10),
            interpreter(1, 10),
        ];
        pool[0].declines_today = 0;
        pool[2].declines_today = 2;
        pool[3].declines_today = 2;
        assert_eq!(
            ranked(Strategy::LongestIdleFirst, &pool),
            [user(3), user(4), user(1), user(2)]
        );
    }

    #[test]
    fn round_robin_offers_the_least_recently_offered_first() {
        let mut pool = vec![interpreter(1, 0), interpreter(2, 9), interpreter(3, 5)];
        pool[0].last_offered_at = Some(at(50));
        pool[1].last_offered_at = Some(at(20));
        assert_eq!(
            ranked(Strategy::RoundRobin, &pool),
            [user(3), user(2), user(1)]
        );
    }

    #[test]
    fn least_talk_time_today_then_longest_idle() {
        let mut pool = vec![interpreter(1, 0), interpreter(2, 9), interpreter(3, 5)];
        pool[0].talk_time_today = TimeDelta::minutes(30);
        assert_eq!(
            ranked(Strategy::LeastTalkTimeToday, &pool),
            [user(3), user(2), user(1)]
        );
        assert_eq!(
            Strategy::LeastTalkTimeToday.key(&pool[0]),
            OrderingKey::LeastTalkTime {
                talk_time_today_s: 1_800,
                idle_since: at(0)
            }
        );
    }

    #[test]
    fn strategies_parse_from_their_configuration_names() {
        for s in Strategy::ALL {
            assert_eq!(Strategy::parse(s.as_str()), Ok(s));
        }
        assert_eq!(
            Strategy::parse("longest_idle"),
            Ok(Strategy::LongestIdleFirst)
        );
        assert_eq!(Strategy::parse("round_robin"), Ok(Strategy::RoundRobin));
        assert_eq!(
            Strategy::parse("least_talk_time"),
            Ok(Strategy::LeastTalkTimeToday)
        );
        assert!(Strategy::parse("random").is_err());
        assert_eq!(Strategy::default(), Strategy::LongestIdleFirst);
    }
}
