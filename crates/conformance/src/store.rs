//! The store suite: users (`AccountStore`), profiles and statuses (`InterpreterStore`), refresh
//! tokens (`RefreshTokenStore`) and the readiness ping, through [`Store`], all the roles of
//! `dragoman_ports::store` at once; each role's module states the invariants these cases check.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dragoman_domain::{
    DisplayName, Email, InterpreterStatus, LanguageCode, LanguageSkill, Level, Modality, Profile,
    Role, Specialization, UserId,
};
use dragoman_ports::store::NextRefreshToken;
use dragoman_ports::{NewRefreshToken, NewUser, RotateOutcome, StatusUpdate, Store, StoreError};
use uuid::Uuid;

/// Expands the store suite into tests. `$factory` is an expression (usually a block awaiting
/// something) evaluated inside each async test, yielding `(Arc<dyn Store>, guard)`.
#[macro_export]
macro_rules! store_suite {
    ($factory:expr) => {
        $crate::store_suite!(@cases $factory;
            creates_and_finds_users,
            emails_are_unique,
            interpreters_start_offline_without_profile,
            profiles_replace_and_round_trip,
            profile_of_a_non_interpreter_is_not_found,
            status_is_compare_and_set,
            concurrent_status_changes_have_one_winner,
            refresh_tokens_rotate_once,
            reused_refresh_token_revokes_family,
            concurrent_rotation_has_one_winner,
            expired_and_unknown_refresh_tokens_are_invalid,
            logout_revokes_family,
            refresh_families_beyond_the_cap_are_revoked_least_recently_used_first,
            ping_answers,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $factory;
                $crate::store::$case(store).await;
            }
        )+
    };
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .expect("a valid instant")
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        id: UserId(Uuid::now_v7()),
        email: Email::parse(email).expect("valid e-mail"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        display_name: DisplayName::parse("Ana Lima").expect("valid name"),
        role,
        created_at: at(0),
    }
}

fn skill(code: &str, level: Level, certified: bool) -> LanguageSkill {
    LanguageSkill {
        code: LanguageCode::parse(code).expect("valid code"),
        level,
        certified,
    }
}

fn profile() -> Profile {
    Profile::new(
        vec![
            skill("es", Level::Native, true),
            skill("ase", Level::Professional, false),
        ],
        [Specialization::Medical, Specialization::Legal]
            .into_iter()
            .collect(),
        [Modality::Video].into_iter().collect(),
    )
    .expect("valid profile")
}

fn token(user: UserId, family: Uuid, hash: &[u8], expires: DateTime<Utc>) -> NewRefreshToken {
    NewRefreshToken {
        id: Uuid::now_v7(),
        user_id: user,
        family_id: family,
        token_hash: hash.to_vec(),
        created_at: at(0),
        expires_at: expires,
    }
}

fn next(hash: &[u8]) -> NextRefreshToken {
    NextRefreshToken {
        id: Uuid::now_v7(),
        token_hash: hash.to_vec(),
        expires_at: at(86_400),
    }
}

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

pub async fn creates_and_finds_users(store: Arc<dyn Store>) {
    let new = new_user("Nurse@Example.org", Role::Client);
    let created = store.create_user(new.clone()).await.expect("created");
    assert_eq!(created.email.as_str(), "nurse@example.org");
    assert_eq!(created.created_at, at(0));

    let by_id = store.user(new.id).await.expect("read").expect("found");
    assert_eq!(by_id, created);
    let by_email = store
        .user_by_email(&Email::parse("nurse@example.org").expect("valid"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(by_email.user, created);
    assert_eq!(by_email.password_hash, new.password_hash);

    assert!(
        store
            .user(UserId(Uuid::now_v7()))
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        store
            .user_by_email(&Email::parse("nobody@example.org").expect("valid"))
            .await
            .expect("read")
            .is_none()
    );
}

pub async fn emails_are_unique(store: Arc<dyn Store>) {
    store
        .create_user(new_user("a@example.org", Role::Client))
        .await
        .expect("first");
    let again = store
        .create_user(new_user("a@example.org", Role::Interpreter))
        .await;
    match again {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, "users_email_key"),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn interpreters_start_offline_without_profile(store: Arc<dyn Store>) {
    let new = new_user("i@example.org", Role::Interpreter);
    store.create_user(new.clone()).await.expect("created");
    let rec = store
        .interpreter(new.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(rec.status, InterpreterStatus::Offline);
    assert_eq!(rec.status_since, at(0));
    assert!(rec.profile.is_none());

    let client = new_user("c@example.org", Role::Client);
    store.create_user(client.clone()).await.expect("created");
    assert!(store.interpreter(client.id).await.expect("read").is_none());
}

pub async fn profiles_replace_and_round_trip(store: Arc<dyn Store>) {
    let new = new_user("i@example.org", Role::Interpreter);
    store.create_user(new.clone()).await.expect("created");
    let saved = store
        .put_profile(new.id, &profile(), at(5))
        .await
        .expect("saved");
    assert_eq!(saved.profile, Some(profile()));

    let smaller = Profile::new(
        vec![skill("fr", Level::Conversational, false)],
        [Specialization::General].into_iter().collect(),
        [Modality::Audio, Modality::Video].into_iter().collect(),
    )
    .expect("valid");
    store
        .put_profile(new.id, &smaller, at(6))
        .await
        .expect("replaced");
    let read = store
        .interpreter(new.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read.profile, Some(smaller));
    assert_eq!(read.status, InterpreterStatus::Offline);
}

pub async fn profile_of_a_non_interpreter_is_not_found(store: Arc<dyn Store>) {
    let client = new_user("c@example.org", Role::Client);
    store.create_user(client.clone()).await.expect("created");
    assert!(matches!(
        store.put_profile(client.id, &profile(), at(1)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .put_profile(UserId(Uuid::now_v7()), &profile(), at(1))
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn status_is_compare_and_set(store: Arc<dyn Store>) {
    let new = new_user("i@example.org", Role::Interpreter);
    store.create_user(new.clone()).await.expect("created");
    let to_available = StatusUpdate {
        from: InterpreterStatus::Offline,
        to: InterpreterStatus::Available,
        at: at(10),
    };
    assert!(
        store
            .update_status(new.id, to_available)
            .await
            .expect("update")
    );
    // The same change again no longer applies: the status is not `offline` any more.
    assert!(
        !store
            .update_status(new.id, to_available)
            .await
            .expect("update")
    );
    let rec = store
        .interpreter(new.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(rec.status, InterpreterStatus::Available);
    assert_eq!(rec.status_since, at(10));
    assert!(
        !store
            .update_status(UserId(Uuid::now_v7()), to_available)
            .await
            .expect("update of nobody")
    );
}

pub async fn concurrent_status_changes_have_one_winner(store: Arc<dyn Store>) {
    let new = new_user("i@example.org", Role::Interpreter);
    store.create_user(new.clone()).await.expect("created");
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .update_status(
                    new.id,
                    StatusUpdate {
                        from: InterpreterStatus::Offline,
                        to: if i % 2 == 0 {
                            InterpreterStatus::Available
                        } else {
                            InterpreterStatus::Away
                        },
                        at: at(i),
                    },
                )
                .await
                .expect("update")
        }
    });
    let wins = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|won| *won)
        .count();
    assert_eq!(wins, 1);
}

pub async fn refresh_tokens_rotate_once(store: Arc<dyn Store>) {
    let user = new_user("c@example.org", Role::Client);
    store.create_user(user.clone()).await.expect("created");
    store
        .insert_refresh_token(token(user.id, Uuid::now_v7(), b"first", at(3600)))
        .await
        .expect("stored");
    assert_eq!(
        store
            .rotate_refresh_token(b"first", next(b"second"), at(1))
            .await
            .expect("rotate"),
        RotateOutcome::Rotated { user_id: user.id }
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"second", next(b"third"), at(2))
            .await
            .expect("rotate"),
        RotateOutcome::Rotated { user_id: user.id }
    );
}

pub async fn reused_refresh_token_revokes_family(store: Arc<dyn Store>) {
    let user = new_user("c@example.org", Role::Client);
    store.create_user(user.clone()).await.expect("created");
    let family = Uuid::now_v7();
    store
        .insert_refresh_token(token(user.id, family, b"first", at(3600)))
        .await
        .expect("stored");
    // A second login has a family of its own, untouched by the first one's reuse.
    store
        .insert_refresh_token(token(user.id, Uuid::now_v7(), b"other-device", at(3600)))
        .await
        .expect("stored");
    store
        .rotate_refresh_token(b"first", next(b"second"), at(1))
        .await
        .expect("rotate");

    // The stolen first token is replayed: reuse, and the whole family dies with it.
    assert_eq!(
        store
            .rotate_refresh_token(b"first", next(b"evil"), at(2))
            .await
            .expect("rotate"),
        RotateOutcome::Reused { user_id: user.id }
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"second", next(b"third"), at(3))
            .await
            .expect("rotate"),
        RotateOutcome::Reused { user_id: user.id }
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"evil", next(b"x"), at(3))
            .await
            .expect("rotate"),
        RotateOutcome::Invalid,
        "the successor of a replayed token is never stored"
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"other-device", next(b"od2"), at(4))
            .await
            .expect("rotate"),
        RotateOutcome::Rotated { user_id: user.id }
    );
}

pub async fn concurrent_rotation_has_one_winner(store: Arc<dyn Store>) {
    let user = new_user("c@example.org", Role::Client);
    store.create_user(user.clone()).await.expect("created");
    store
        .insert_refresh_token(token(user.id, Uuid::now_v7(), b"first", at(3600)))
        .await
        .expect("stored");
    let attempts = (0..6u8).map(|i| {
        let store = store.clone();
        async move {
            store
                .rotate_refresh_token(b"first", next(&[b'n', i]), at(1))
                .await
                .expect("rotate")
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let rotated = outcomes
        .iter()
        .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
        .count();
    assert_eq!(rotated, 1, "{outcomes:?}");
}

pub async fn expired_and_unknown_refresh_tokens_are_invalid(store: Arc<dyn Store>) {
    let user = new_user("c@example.org", Role::Client);
    store.create_user(user.clone()).await.expect("created");
    store
        .insert_refresh_token(token(user.id, Uuid::now_v7(), b"short", at(10)))
        .await
        .expect("stored");
    assert_eq!(
        store
            .rotate_refresh_token(b"short", next(b"n1"), at(11))
            .await
            .expect("rotate"),
        RotateOutcome::Invalid
    );
    assert_eq!(
        store
            .rotate_refresh_token(b"never-issued", next(b"n2"), at(1))
            .await
            .expect("rotate"),
        RotateOutcome::Invalid
    );
}

pub async fn logout_revokes_family(store: Arc<dyn Store>) {
    let user = new_user("c@example.org", Role::Client);
    store.create_user(user.clone()).await.expect("created");
    store
        .insert_refresh_token(token(user.id, Uuid::now_v7(), b"first", at(3600)))
        .await
        .expect("stored");
    store
        .rotate_refresh_token(b"first", next(b"second"), at(1))
        .await
        .expect("rotate");
    store
        .revoke_refresh_family(b"first", at(2))
        .await
        .expect("logout");
    assert!(matches!(
        store
            .rotate_refresh_token(b"second", next(b"third"), at(3))
            .await
            .expect("rotate"),
        RotateOutcome::Reused { .. }
    ));
    store
        .revoke_refresh_family(b"unknown", at(2))
        .await
        .expect("ignored");
}

pub async fn refresh_families_beyond_the_cap_are_revoked_least_recently_used_first(
    store: Arc<dyn Store>,
) {
    let user = new_user("c@example.org", Role::Client);
    let other = new_user("o@example.org", Role::Client);
    store.create_user(user.clone()).await.expect("created");
    store.create_user(other.clone()).await.expect("created");
    // Four logins, one a second; the first is then refreshed, so it is the most recently used.
    for (n, hash) in [b"f0", b"f1", b"f2", b"f3"].iter().enumerate() {
        let mut t = token(user.id, Uuid::now_v7(), *hash, at(3600));
        t.created_at = at(n as i64);
        store.insert_refresh_token(t).await.expect("stored");
    }
    store
        .insert_refresh_token(token(other.id, Uuid::now_v7(), b"other", at(3600)))
        .await
        .expect("stored");
    assert!(matches!(
        store
            .rotate_refresh_token(b"f0", next(b"f0-next"), at(10))
            .await
            .expect("rotate"),
        RotateOutcome::Rotated { .. }
    ));

    store
        .cap_refresh_families(user.id, 2, at(11))
        .await
        .expect("capped");

    let rotate = |hash: &'static [u8], successor: &'static [u8]| {
        let store = store.clone();
        async move {
            store
                .rotate_refresh_token(hash, next(successor), at(12))
                .await
                .expect("rotate")
        }
    };
    assert!(
        matches!(
            rotate(b"f0-next", b"a").await,
            RotateOutcome::Rotated { .. }
        ),
        "the refreshed family is the most recently used: kept"
    );
    assert!(
        matches!(rotate(b"f3", b"b").await, RotateOutcome::Rotated { .. }),
        "the newest login is kept"
    );
    for revoked in [b"f1", b"f2"] {
        assert!(
            matches!(rotate(revoked, b"x").await, RotateOutcome::Reused { .. }),
            "{:?}: beyond the cap, revoked",
            String::from_utf8_lossy(revoked)
        );
    }
    assert!(
        matches!(rotate(b"other", b"y").await, RotateOutcome::Rotated { .. }),
        "another user's families are not touched"
    );
    store
        .cap_refresh_families(UserId(Uuid::now_v7()), 1, at(13))
        .await
        .expect("a user without tokens is fine");
}
