//! Read-your-writes: a read routed to the replica right after a write sees the write, whether the
//! replica has it already (it waits the few milliseconds) or not (replay paused: the primary).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_right_after_a_write_sees_it() {
    let _lock = ReplicaLock::take().await;
    observe::start();
    // A limit no pause here reaches: only the per-read check decides.
    let (store, _db, _guard) = store_with_replica(Duration::from_secs(600), None).await;
    let matching: &dyn MatchingStore = store.as_ref();
    let id = interpreter(store.as_ref() as &dyn Store, "Ana", &["es"]).await;
    eventually("a healthy replica", || store.replica_in_use() == Some(true)).await;

    let before = observe::fallbacks("behind");
    for round in 0..20 {
        let to = if round % 2 == 0 {
            InterpreterStatus::Available
        } else {
            InterpreterStatus::Away
        };
        set_status(matching, id, to, round).await;
        let expected = u32::from(to == InterpreterStatus::Available);
        assert_eq!(available_es(matching).await, expected, "round {round}");
    }
    assert_eq!(store.replica_in_use(), Some(true));
    // The replica served them: a replica in the same machine replays within the wait.
    assert!(
        observe::fallbacks("behind") - before < 20.0,
        "every read went to the primary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_replica_has_not_replayed_is_read_on_the_primary() {
    let _lock = ReplicaLock::take().await;
    observe::start();
    let (store, db, _guard) = store_with_replica(Duration::from_secs(600), None).await;
    let matching: &dyn MatchingStore = store.as_ref();
    let people: &dyn Store = store.as_ref();
    let client = dragoman_conformance::matching::fixtures::client(people, "Bea").await;
    let id = interpreter(people, "Ana", &["es"]).await;
    set_status(matching, id, InterpreterStatus::Available, 1).await;
    let session = session_between(matching, client, id, "es", 2).await;
    assert_eq!(available_es(matching).await, 0);

    // The session itself must be on the replica before replay stops, or the premise below
    // cannot be checked: wait for it (replay takes milliseconds here; a minute is allowed).
    let mut on_replica = PgConnection::connect(&db.replica_url().await.expect("url"))
        .await
        .expect("the replica");
    until_replica_says(
        &mut on_replica,
        "SELECT count(*) = 1 FROM sessions WHERE id = $1",
        session.id.0,
        "the replica never replayed the session's start",
    )
    .await;
    let paused = ReplayPaused::start().await;
    let done = ended(matching, &session, client, 10).await;
    assert_eq!(status_of(matching, id).await, InterpreterStatus::WrapUp);
    // The premise: the replica itself does not have the end yet.
    let ended_there: bool =
        sqlx::query_scalar("SELECT ended_at IS NOT NULL FROM sessions WHERE id = $1")
            .bind(session.id.0)
            .fetch_one(&mut on_replica)
            .await
            .expect("the session on the replica");
    assert!(!ended_there, "replay was not paused");

    let behind = observe::fallbacks("behind");
    let listed = matching
        .sessions_of(client, None, 10)
        .await
        .expect("listed");
    assert_eq!(listed.first().map(|s| s.ended_at()), Some(done.ended_at()));
    assert_eq!(observe::fallbacks("behind") - behind, 1.0);
    assert_eq!(
        store.replica_in_use(),
        Some(true),
        "the limit is not reached"
    );

    drop(paused);
    // Replayed now (waited for, as above: a loaded machine may replay later than the store's
    // own short fence wait): the replica serves the list, with the end.
    until_replica_says(
        &mut on_replica,
        "SELECT ended_at IS NOT NULL FROM sessions WHERE id = $1",
        session.id.0,
        "the replica never replayed the session's end",
    )
    .await;
    // Other tests write to the same cluster meanwhile, so the primary's position may run ahead
    // of the replica for longer than the store's fence wait: a read may still fall back, and
    // then the next one is tried. One of them must be served by the replica.
    let mut served_by_replica = false;
    for _ in 0..50 {
        let behind = observe::fallbacks("behind");
        let listed = matching
            .sessions_of(client, None, 10)
            .await
            .expect("listed");
        assert_eq!(listed.first().map(|s| s.ended_at()), Some(done.ended_at()));
        if observe::fallbacks("behind") == behind {
            served_by_replica = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served_by_replica, "the replica never served the list");
    on_replica.close().await.ok();
}

/// Waits until `query` (one boolean about `id`) is true on the replica: replay takes milliseconds
/// here, a minute is allowed for a loaded machine.
async fn until_replica_says(
    on_replica: &mut PgConnection,
    query: &'static str,
    id: uuid::Uuid,
    what: &str,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let yes: bool = sqlx::query_scalar(query)
            .bind(id)
            .fetch_one(&mut *on_replica)
            .await
            .expect("the replica answers");
        if yes {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
