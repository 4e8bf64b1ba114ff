//! Each language's interpreters as this instance last read them, so that a matching round reads
//! again only the interpreters that changed.
//!
//! A round needs every interpreter who lists the language (the candidates, and the excluded for
//! the explanation): about 380 rows per round on the matching benchmark, the largest read of a
//! match. The lease holder keeps them here instead. An interpreter is marked changed when this
//! instance changes them (synchronously, before the round that follows can run) and when any
//! instance's `status.changed` reaches the bus; the next round of each of their languages reads
//! just those rows again (`ClaimStore::snapshot` with `only`). The whole language is read again
//! when the roster is older than [`RESYNC`], after a failed read, and when the bus lost events,
//! so that a lost event costs at most a few seconds of a stale entry.
//!
//! A stale entry never breaks an invariant: the claim (`ClaimStore::apply_offer`) decides under
//! the row's lock, and a claim lost to a stale entry marks that interpreter changed and runs the
//! round again.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use dragoman_domain::matching::{InterpreterSnapshot, Snapshot};
use dragoman_domain::{LanguageCode, UserId};

/// The longest a language's roster is trusted before it is read whole again. Also bounds how
/// long a profile changed on another instance (which publishes nothing) goes unseen here.
pub(crate) const RESYNC: TimeDelta = TimeDelta::seconds(5);

/// The rosters of the languages this instance has matched.
#[derive(Debug, Default)]
pub(crate) struct Rosters {
    languages: HashMap<LanguageCode, Roster>,
}

#[derive(Debug)]
struct Roster {
    /// In `user_id` order, whatever order the store gave them in.
    interpreters: BTreeMap<UserId, InterpreterSnapshot>,
    /// Changed since they were read.
    changed: HashSet<UserId>,
    read_at: DateTime<Utc>,
}

/// What a round reads for a language.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Everyone (no roster, or one too old to trust).
    Whole,
    /// Only these (possibly none): the rest is in the roster.
    Only(Vec<UserId>),
}

impl Rosters {
    /// Marks `user` changed in every roster they are in, or in every roster if they are in none
    /// (they may have just become someone a language needs).
    pub(crate) fn changed(&mut self, user: UserId) {
        let known = self
            .languages
            .values()
            .any(|r| r.interpreters.contains_key(&user));
        for roster in self.languages.values_mut() {
            if !known || roster.interpreters.contains_key(&user) {
                roster.changed.insert(user);
            }
        }
    }

    /// Forgets every roster: each language is read whole at its next round.
    pub(crate) fn clear(&mut self) {
        self.languages.clear();
    }

    /// What the round of `language` at `now` must read. Taking the changed interpreters clears
    /// them: a change marked from now on is read by the next round.
    pub(crate) fn take_read(&mut self, language: LanguageCode, now: DateTime<Utc>) -> Read {
        match self.languages.get_mut(&language) {
            Some(roster) if now >= roster.read_at && now - roster.read_at < RESYNC => {
                Read::Only(roster.changed.drain().collect())
            }
            _ => Read::Whole,
        }
    }

    /// Puts what was read into the roster of `language` and gives `snapshot` the whole language:
    /// with [`Read::Whole`] the snapshot is the roster; with [`Read::Only`] its interpreters
    /// replace those read (one who no longer lists the language is dropped) and the others come
    /// from the roster.
    pub(crate) fn merge(
        &mut self,
        language: LanguageCode,
        read: Read,
        snapshot: &mut Snapshot,
        now: DateTime<Utc>,
    ) {
        let fresh = std::mem::take(&mut snapshot.interpreters);
        match read {
            Read::Whole => {
                let roster = Roster {
                    interpreters: fresh.into_iter().map(|i| (i.id, i)).collect(),
                    changed: HashSet::new(),
                    read_at: now,
                };
                snapshot.interpreters = roster.interpreters.values().cloned().collect();
                self.languages.insert(language, roster);
            }
            Read::Only(users) => {
                let Some(roster) = self.languages.get_mut(&language) else {
                    // Forgotten meanwhile: this round decides on what it read, the next reads
                    // the language whole.
                    snapshot.interpreters = fresh;
                    return;
                };
                for user in users {
                    roster.interpreters.remove(&user);
                }
                for interpreter in fresh {
                    roster.interpreters.insert(interpreter.id, interpreter);
                }
                snapshot.interpreters = roster.interpreters.values().cloned().collect();
            }
        }
    }

    /// Forgets the roster of `language`: its read failed (so what was taken as changed is lost),
    /// or another instance matches it now.
    pub(crate) fn forget(&mut self, language: LanguageCode) {
        self.languages.remove(&language);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dragoman_domain::{
        InterpreterStatus, LanguageSkill, Level, Modality, ModalitySet, Profile, Specialization,
        SpecializationSet,
    };
    use uuid::Uuid;

    fn lang(code: &str) -> LanguageCode {
        LanguageCode::parse(code).expect("a valid code")
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_760_000_000 + secs, 0).expect("a valid instant")
    }

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    /// An available interpreter of `code` alone.
    fn interpreter(n: u128, code: &str) -> InterpreterSnapshot {
        let languages = vec![LanguageSkill {
            code: lang(code),
            level: Level::Professional,
            certified: false,
        }];
        InterpreterSnapshot {
            id: user(n),
            status: InterpreterStatus::Available,
            profile: Profile::new(
                languages,
                [Specialization::General]
                    .into_iter()
                    .collect::<SpecializationSet>(),
                [Modality::Video].into_iter().collect::<ModalitySet>(),
            )
            .expect("a valid profile"),
            idle_since: at(0),
            declines_today: 0,
            talk_time_today: TimeDelta::zero(),
            last_offered_at: None,
        }
    }

    fn snapshot_of(interpreters: Vec<InterpreterSnapshot>) -> Snapshot {
        Snapshot {
            interpreters,
            ..Snapshot::default()
        }
    }

    fn ids(snapshot: &Snapshot) -> Vec<UserId> {
        snapshot.interpreters.iter().map(|i| i.id).collect()
    }

    #[test]
    fn a_language_is_read_whole_first_then_only_what_changed() {
        let mut rosters = Rosters::default();
        let es = lang("es");
        assert_eq!(rosters.take_read(es, at(0)), Read::Whole);
        let mut first = snapshot_of(vec![interpreter(2, "es"), interpreter(1, "es")]);
        rosters.merge(es, Read::Whole, &mut first, at(0));
        assert_eq!(ids(&first), vec![user(1), user(2)], "in user order");

        assert_eq!(rosters.take_read(es, at(1)), Read::Only(vec![]));
        rosters.changed(user(2));
        assert_eq!(rosters.take_read(es, at(1)), Read::Only(vec![user(2)]));
        assert_eq!(
            rosters.take_read(es, at(1)),
            Read::Only(vec![]),
            "taking the changed clears them"
        );
    }

    #[test]
    fn a_changed_interpreter_is_replaced_or_dropped_and_the_rest_kept() {
        let mut rosters = Rosters::default();
        let es = lang("es");
        let mut whole = snapshot_of(vec![
            interpreter(1, "es"),
            interpreter(2, "es"),
            interpreter(3, "es"),
        ]);
        rosters.merge(es, Read::Whole, &mut whole, at(0));
        let mut busy = interpreter(2, "es");
        busy.status = InterpreterStatus::Busy;
        // 2 changed status; 3 no longer lists the language, so the store returns only 2.
        let mut delta = snapshot_of(vec![busy.clone()]);
        rosters.merge(es, Read::Only(vec![user(2), user(3)]), &mut delta, at(1));
        assert_eq!(ids(&delta), vec![user(1), user(2)]);
        assert_eq!(delta.interpreters[1], busy);
    }

    #[test]
    fn someone_in_no_roster_is_marked_everywhere_and_a_member_only_where_they_are() {
        let mut rosters = Rosters::default();
        let (es, fr) = (lang("es"), lang("fr"));
        rosters.merge(
            es,
            Read::Whole,
            &mut snapshot_of(vec![interpreter(1, "es")]),
            at(0),
        );
        rosters.merge(
            fr,
            Read::Whole,
            &mut snapshot_of(vec![interpreter(2, "fr")]),
            at(0),
        );
        rosters.changed(user(1));
        rosters.changed(user(9));
        assert_eq!(sorted(rosters.take_read(es, at(1))), vec![user(1), user(9)]);
        assert_eq!(sorted(rosters.take_read(fr, at(1))), vec![user(9)]);
    }

    #[test]
    fn an_old_or_forgotten_roster_is_read_whole() {
        let mut rosters = Rosters::default();
        let es = lang("es");
        rosters.merge(
            es,
            Read::Whole,
            &mut snapshot_of(vec![interpreter(1, "es")]),
            at(0),
        );
        assert_eq!(rosters.take_read(es, at(0) + RESYNC), Read::Whole);
        assert_eq!(
            rosters.take_read(es, at(0) - TimeDelta::seconds(1)),
            Read::Whole,
            "a clock that went back"
        );
        rosters.forget(es);
        assert_eq!(rosters.take_read(es, at(1)), Read::Whole);
        rosters.merge(
            es,
            Read::Whole,
            &mut snapshot_of(vec![interpreter(1, "es")]),
            at(0),
        );
        rosters.clear();
        assert_eq!(rosters.take_read(es, at(1)), Read::Whole);
    }

    fn sorted(read: Read) -> Vec<UserId> {
        match read {
            Read::Only(mut users) => {
                users.sort();
                users
            }
            Read::Whole => panic!("expected a partial read"),
        }
    }
}
