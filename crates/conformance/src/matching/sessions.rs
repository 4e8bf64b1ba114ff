//! Sessions: ending, rating, listing, and the wrap-up that follows.

use std::sync::Arc;

use chrono::TimeDelta;
use dragoman_domain::InterpreterStatus;
use dragoman_domain::matching::{Rating, SessionError, SessionId, SessionPhase, Stars};
use dragoman_ports::matching::SessionOutcome;
use dragoman_ports::{MatchingStore, Store};
use uuid::Uuid;

use super::fixtures::*;

pub async fn end_session_by_participants_once(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let stranger = client(&*store, "stranger").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let session = session_between(&*matching, c, i, "es", 10).await;
    assert_eq!(session.started_at, at(12));

    assert_eq!(
        matching
            .end_session(session.id, stranger, at(20))
            .await
            .expect("end"),
        SessionOutcome::Refused(SessionError::NotParticipant)
    );
    assert_eq!(
        matching
            .end_session(SessionId(Uuid::now_v7()), c, at(20))
            .await
            .expect("end"),
        SessionOutcome::NotFound
    );
    assert_eq!(status_of(&*matching, i).await, InterpreterStatus::Busy);

    let done = ended(&*matching, &session, c, 72).await;
    assert_eq!(done.phase, SessionPhase::Ended { ended_at: at(72) });
    assert_eq!(done.id, session.id);
    assert_eq!(
        matching.session(session.id).await.expect("read"),
        Some(done)
    );
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(
        (presence.status, presence.since),
        (InterpreterStatus::WrapUp, at(72))
    );
    let snapshot = matching
        .snapshot(lang("es"), at(80), None)
        .await
        .expect("snapshot");
    assert_eq!(
        snapshot.interpreters[0].talk_time_today,
        TimeDelta::seconds(60)
    );

    for by in [i, c] {
        assert_eq!(
            matching
                .end_session(session.id, by, at(90))
                .await
                .expect("end"),
            SessionOutcome::Refused(SessionError::AlreadyEnded)
        );
    }

    // The interpreter may end a session too, and talk time adds up.
    matching
        .finish_wrap_ups(at(100), TimeDelta::seconds(10))
        .await
        .expect("wrap-ups");
    let second = session_between(&*matching, c, i, "es", 200).await;
    ended(&*matching, &second, i, 232).await;
    let snapshot = matching
        .snapshot(lang("es"), at(240), None)
        .await
        .expect("snapshot");
    assert_eq!(
        snapshot.interpreters[0].talk_time_today,
        TimeDelta::seconds(90)
    );
}

fn rating(stars: i64, comment: Option<&str>) -> Rating {
    Rating::new(Stars::parse(stars).expect("valid stars"), comment).expect("a valid rating")
}

pub async fn rate_session_by_the_client_once_after_the_end(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let stranger = client(&*store, "stranger").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let session = session_between(&*matching, c, i, "es", 10).await;
    let five = rating(5, Some("clear and calm"));

    assert_eq!(
        matching
            .rate_session(session.id, c, &five, at(20))
            .await
            .expect("rate"),
        SessionOutcome::Refused(SessionError::NotEnded)
    );
    ended(&*matching, &session, i, 72).await;
    let refused = [
        (i, SessionOutcome::Refused(SessionError::NotClient)),
        (
            stranger,
            SessionOutcome::Refused(SessionError::NotParticipant),
        ),
    ];
    for (by, expected) in refused {
        assert_eq!(
            matching
                .rate_session(session.id, by, &five, at(80))
                .await
                .expect("rate"),
            expected
        );
    }
    assert_eq!(
        matching
            .rate_session(SessionId(Uuid::now_v7()), c, &five, at(80))
            .await
            .expect("rate"),
        SessionOutcome::NotFound
    );

    let rated = match matching
        .rate_session(session.id, c, &five, at(80))
        .await
        .expect("rate")
    {
        SessionOutcome::Done(s) => s,
        other => panic!("expected a rating, got {other:?}"),
    };
    assert_eq!(
        rated.phase,
        SessionPhase::Rated {
            ended_at: at(72),
            rating: five.clone()
        }
    );
    assert_eq!(
        matching.session(session.id).await.expect("read"),
        Some(rated)
    );
    assert_eq!(
        matching
            .rate_session(session.id, c, &rating(1, None), at(90))
            .await
            .expect("rate"),
        SessionOutcome::Refused(SessionError::AlreadyRated)
    );

    // A rating without a comment round-trips too.
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let second = session_between(&*matching, c, j, "es", 100).await;
    ended(&*matching, &second, c, 130).await;
    let plain = rating(3, None);
    matching
        .rate_session(second.id, c, &plain, at(131))
        .await
        .expect("rate");
    let stored = matching
        .session(second.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(stored.rating(), Some(&plain));
}

pub async fn wrap_ups_finish_after_the_pause(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let d = client(&*store, "doctor").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let first = session_between(&*matching, c, i, "es", 10).await;
    let second = session_between(&*matching, d, j, "es", 10).await;
    ended(&*matching, &first, c, 75).await;
    ended(&*matching, &second, d, 75).await;
    // Jorge cuts his wrap-up short; the timer then has nothing to do for him.
    set_status(&*matching, j, InterpreterStatus::Away, 78).await;

    let pause = TimeDelta::seconds(10);
    assert!(
        matching
            .finish_wrap_ups(at(84), pause)
            .await
            .expect("wrap-ups")
            .is_empty()
    );
    assert_eq!(
        matching
            .finish_wrap_ups(at(85), pause)
            .await
            .expect("wrap-ups"),
        [i]
    );
    let presence = matching
        .presence(i)
        .await
        .expect("presence")
        .expect("an interpreter")
        .presence;
    assert_eq!(presence.status, InterpreterStatus::Available);
    assert_eq!((presence.since, presence.idle_since), (at(85), at(85)));
    assert_eq!(status_of(&*matching, j).await, InterpreterStatus::Away);
    assert!(
        matching
            .finish_wrap_ups(at(200), pause)
            .await
            .expect("wrap-ups")
            .is_empty()
    );
}

pub async fn sessions_are_listed_newest_first_with_a_cursor(
    store: Arc<dyn Store>,
    matching: Arc<dyn MatchingStore>,
) {
    let c = client(&*store, "nurse").await;
    let stranger = client(&*store, "stranger").await;
    let i = available_interpreter(&*store, &*matching, "ines", &["es"], 0).await;
    let j = available_interpreter(&*store, &*matching, "jorge", &["es"], 0).await;
    let pause = TimeDelta::seconds(10);

    let s1 = session_between(&*matching, c, i, "es", 10).await;
    let s1 = ended(&*matching, &s1, c, 50).await;
    matching
        .finish_wrap_ups(at(60), pause)
        .await
        .expect("wrap-ups");
    let s2 = session_between(&*matching, c, j, "es", 100).await;
    let s2 = ended(&*matching, &s2, c, 150).await;
    let s3 = session_between(&*matching, c, i, "es", 200).await;

    let ids = |sessions: Vec<dragoman_domain::Session>| -> Vec<SessionId> {
        sessions.into_iter().map(|s| s.id).collect()
    };
    let all = matching.sessions_of(c, None, 10).await.expect("list");
    assert_eq!(all, [s3.clone(), s2.clone(), s1.clone()]);
    assert_eq!(
        ids(matching.sessions_of(c, None, 2).await.expect("list")),
        [s3.id, s2.id]
    );
    assert_eq!(
        ids(matching.sessions_of(c, Some(s2.id), 2).await.expect("list")),
        [s1.id]
    );
    assert!(
        matching
            .sessions_of(c, Some(s1.id), 2)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        ids(matching.sessions_of(i, None, 10).await.expect("list")),
        [s3.id, s1.id]
    );
    assert_eq!(
        ids(matching.sessions_of(j, None, 10).await.expect("list")),
        [s2.id]
    );
    assert!(
        matching
            .sessions_of(stranger, None, 10)
            .await
            .expect("list")
            .is_empty()
    );
}
