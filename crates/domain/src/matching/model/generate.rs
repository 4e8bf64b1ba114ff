//! Random worlds and operations for the property tests.
//!
//! The vocabulary is kept small (three languages, three specializations, two modalities, up to
//! six interpreters) and skewed towards the common case, so that requests compete for the same
//! interpreters often, while profiles still differ enough for every exclusion rule to fire.

use chrono::TimeDelta;
use proptest::prelude::*;

use super::{Desk, Op, Party, World};
use crate::matching::fixtures::{at, lang, user};
use crate::matching::{Matcher, MatchingConfig, Need, Presence, Priority, Strategy as Routing};
use crate::{InterpreterStatus, LanguageSkill, Level, Modality, Profile, Specialization};

const LANGS: [&str; 3] = ["es", "fr", "ase"];
const SPECS: [Specialization; 3] = [
    Specialization::General,
    Specialization::Medical,
    Specialization::Legal,
];
const MODS: [Modality; 2] = [Modality::Video, Modality::Audio];
const MANUAL: [InterpreterStatus; 3] = [
    InterpreterStatus::Available,
    InterpreterStatus::Away,
    InterpreterStatus::Offline,
];

/// Indices of a non-empty subset of `n` items, each in with probability 0.6: profiles overlap
/// enough for contention, and differ enough for exclusions.
fn subset(n: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop::bool::weighted(0.6), n).prop_map(|bits| {
        let picked: Vec<usize> = (0..bits.len()).filter(|&i| bits[i]).collect();
        if picked.is_empty() { vec![0] } else { picked }
    })
}

fn profile() -> impl Strategy<Value = Profile> {
    (subset(LANGS.len()), subset(SPECS.len()), subset(MODS.len())).prop_map(|(l, s, m)| {
        let skill = |i: usize| LanguageSkill {
            code: lang(LANGS[i]),
            level: Level::Native,
            certified: false,
        };
        Profile::new(
            l.into_iter().map(skill).collect(),
            s.into_iter().map(|i| SPECS[i]).collect(),
            m.into_iter().map(|i| MODS[i]).collect(),
        )
        .expect("a profile with one of each at least")
    })
}

pub fn world() -> impl Strategy<Value = World> {
    let desks = prop::collection::vec((profile(), prop::bool::weighted(0.75)), 1..7);
    (desks, 0usize..3, 1u32..5).prop_map(|(desks, strategy, max_no_answer)| {
        let config = MatchingConfig {
            strategy: Routing::ALL[strategy],
            max_no_answer,
            ..MatchingConfig::default()
        };
        let desks = desks
            .into_iter()
            .zip(1u128..)
            .map(|((profile, online), n)| {
                let offline = Presence::new(at(0));
                let presence = if online {
                    offline
                        .set_manually(InterpreterStatus::Available, true, at(0))
                        .expect("has a profile")
                } else {
                    offline
                };
                Desk {
                    id: user(n),
                    profile,
                    presence,
                    declines_today: 0,
                    talk_time_today: TimeDelta::zero(),
                    last_offered_at: None,
                }
            });
        World::new(Matcher::new(config), desks.collect())
    })
}

fn party() -> impl Strategy<Value = Party> {
    prop_oneof![4 => Just(Party::Client), 4 => Just(Party::Interpreter), 1 => Just(Party::Stranger)]
}

pub fn op() -> impl Strategy<Value = Op> {
    // Mostly the common case (the first of each), so that requests compete for interpreters.
    let first_mostly = |n: usize| prop_oneof![3 => Just(0), 2 => 0..n];
    let need = (
        first_mostly(LANGS.len()),
        first_mostly(SPECS.len()),
        first_mostly(MODS.len()),
    )
        .prop_map(|(l, s, m)| Need::new(lang(LANGS[l]), Some(SPECS[s]), Some(MODS[m])));
    let status = prop_oneof![3 => Just(MANUAL[0]), 1 => Just(MANUAL[1]), 1 => Just(MANUAL[2])];
    prop_oneof![
        4 => (need, 0i16..2).prop_map(|(need, p)| Op::NewRequest { need, priority: Priority(p) }),
        2 => (any::<usize>(), status).prop_map(|(desk, to)| Op::SetStatus { desk, to }),
        5 => Just(Op::Plan),
        3 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(offer, pending_only)| Op::Accept { offer, pending_only }),
        2 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(offer, pending_only)| Op::Decline { offer, pending_only }),
        2 => any::<usize>().prop_map(|offer| Op::OfferTimeout { offer }),
        1 => any::<usize>().prop_map(|request| Op::Cancel { request }),
        2 => (0i64..90).prop_map(|seconds| Op::Tick { seconds }),
        2 => (any::<usize>(), party()).prop_map(|(session, by)| Op::EndSession { session, by }),
        2 => any::<usize>().prop_map(|desk| Op::WrapUpEnd { desk }),
        1 => (any::<usize>(), party(), -1i64..7).prop_map(|(session, by, stars)| Op::Rate { session, by, stars }),
    ]
}
