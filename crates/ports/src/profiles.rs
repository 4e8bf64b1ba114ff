//! The languages of interpreters' profiles, kept in memory by a store under their version.
//!
//! A matching round reads every interpreter of its language, but profiles change rarely (an
//! interpreter editing their languages) while statuses and counters change at every offer. A
//! store therefore reads the narrow interpreter rows with a `profile_version`, and reads the
//! languages only of those whose version it has not seen. The version is raised by the statement
//! that changes the profile, so a version read together with its languages (in one statement or
//! one transaction's snapshot) names exactly those languages, and each entry is kept under the
//! version read with it; an entry at another version is replaced, never trusted. Both stores share
//! this cache; each reads the missing languages its own way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use dragoman_domain::{LanguageSkill, UserId};

use crate::StoreError;

/// One interpreter's languages, in profile order.
pub type Languages = Arc<[LanguageSkill]>;

/// Languages per interpreter, each under the profile version it was read at.
#[derive(Debug, Default)]
pub struct ProfileCache {
    entries: Mutex<HashMap<UserId, (i64, Languages)>>,
}

impl ProfileCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<UserId, (i64, Languages)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The languages of each of `wanted` (interpreter, profile version), in its order. Those not
    /// held at that version are asked of `read` all at once: for the interpreters it is given, it
    /// returns the profile version it found together with their languages, both from one
    /// consistent read (one statement, or one transaction's snapshot). An entry is kept under the
    /// version read, which is newer than the one asked for if the profile changed in between; an
    /// interpreter `read` did not find is answered with no languages and not kept.
    pub async fn languages<F, Fut>(
        &self,
        wanted: &[(UserId, i64)],
        read: F,
    ) -> Result<Vec<Languages>, StoreError>
    where
        F: FnOnce(Vec<UserId>) -> Fut,
        Fut: Future<Output = Result<HashMap<UserId, (i64, Vec<LanguageSkill>)>, StoreError>>,
    {
        let mut found: Vec<Option<Languages>> = {
            let entries = self.entries();
            wanted
                .iter()
                .map(|(user, version)| match entries.get(user) {
                    Some((v, languages)) if v == version => Some(languages.clone()),
                    _ => None,
                })
                .collect()
        };
        let missing: Vec<UserId> = wanted
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|((user, _), _)| *user)
            .collect();
        if !missing.is_empty() {
            let mut read = read(missing).await?;
            let mut entries = self.entries();
            for ((user, _), slot) in wanted.iter().zip(found.iter_mut()) {
                if slot.is_none() {
                    *slot = Some(match read.remove(user) {
                        Some((version, languages)) => {
                            let languages: Languages = Arc::from(languages);
                            entries.insert(*user, (version, languages.clone()));
                            languages
                        }
                        None => Arc::from(Vec::new()),
                    });
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Interpreters held.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dragoman_domain::{LanguageCode, Level};
    use uuid::Uuid;

    fn skill(code: &str) -> LanguageSkill {
        LanguageSkill {
            code: LanguageCode::parse(code).expect("a code"),
            level: Level::Professional,
            certified: false,
        }
    }

    #[tokio::test]
    async fn reads_only_what_it_does_not_hold_at_that_version() {
        let cache = ProfileCache::default();
        let (a, b) = (UserId(Uuid::now_v7()), UserId(Uuid::now_v7()));
        let asked = Mutex::new(Vec::new());
        let read = |users: Vec<UserId>| {
            asked.lock().expect("lock").push(users.clone());
            let codes = if users.contains(&a) { "es" } else { "fr" };
            async move {
                Ok(users
                    .into_iter()
                    .map(|u| (u, (1, vec![skill(codes)])))
                    .collect())
            }
        };
        let first = cache
            .languages(&[(a, 1), (b, 1)], read)
            .await
            .expect("read");
        assert_eq!(first.len(), 2);
        assert_eq!(first[0][0].code.as_str(), "es");
        let again = cache
            .languages(&[(b, 1), (a, 1)], read)
            .await
            .expect("held");
        assert_eq!(again[1][0].code.as_str(), "es", "in the order asked");
        assert_eq!(asked.lock().expect("lock").len(), 1, "nothing read again");

        // b's profile moved on: only b is read, and its new languages replace the old.
        let read_b = |users: Vec<UserId>| async move {
            assert_eq!(users, vec![b]);
            Ok(users
                .into_iter()
                .map(|u| (u, (2, vec![skill("de")])))
                .collect())
        };
        let moved = cache
            .languages(&[(a, 1), (b, 2)], read_b)
            .await
            .expect("read");
        assert_eq!(moved[1][0].code.as_str(), "de");
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn an_entry_is_kept_under_the_version_read_not_the_one_asked() {
        let cache = ProfileCache::default();
        let a = UserId(Uuid::now_v7());
        // Asked at version 1; the profile moved to 2 before its languages were read.
        let newer = |users: Vec<UserId>| async move {
            Ok(users
                .into_iter()
                .map(|u| (u, (2, vec![skill("de")])))
                .collect())
        };
        let read = cache.languages(&[(a, 1)], newer).await.expect("read");
        assert_eq!(read[0][0].code.as_str(), "de");
        // Version 1 is not held (its languages were never read); version 2 is.
        let unread =
            |_: Vec<UserId>| async { Err(StoreError::Backend(anyhow::anyhow!("read again"))) };
        assert!(cache.languages(&[(a, 1)], unread).await.is_err());
        let held = cache
            .languages(&[(a, 2)], |_: Vec<UserId>| async {
                Err(StoreError::Backend(anyhow::anyhow!("not read")))
            })
            .await
            .expect("held at version 2");
        assert_eq!(held[0][0].code.as_str(), "de");
    }

    #[tokio::test]
    async fn a_failed_read_keeps_nothing() {
        let cache = ProfileCache::default();
        let a = UserId(Uuid::now_v7());
        let failed = cache
            .languages(&[(a, 1)], |_| async {
                Err(StoreError::Backend(anyhow::anyhow!("connection lost")))
            })
            .await;
        assert!(failed.is_err());
        assert!(cache.is_empty());
    }
}
