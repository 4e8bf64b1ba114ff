//! A replica that does not answer: refused at start; lost later, reads fall back to the primary
//! and come back to it when it answers again.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_does_not_answer_at_start_is_refused() {
    let db = TestDatabase::create().await.expect("a test database");
    let _guard = DatabaseGuard(db.clone());
    // A port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let refused = PgStore::connect(&db.direct_url(), Pooler::None, 2)
        .await
        .expect("the primary")
        .with_replica(&ReplicaSettings {
            url: format!("postgres://postgres@127.0.0.1:{port}/{}", db.name),
            pooler: Pooler::None,
            max_connections: 2,
            max_lag: Duration::from_secs(2),
        })
        .await;
    let error = format!("{:#}", refused.expect_err("refused"));
    assert!(error.contains("connecting"), "{error}");

    // The primary is no replica either.
    let primary = PgStore::connect(&db.direct_url(), Pooler::None, 2)
        .await
        .expect("the primary")
        .with_replica(&ReplicaSettings {
            url: db.direct_url(),
            pooler: Pooler::None,
            max_connections: 2,
            max_lag: Duration::from_secs(2),
        })
        .await;
    let error = format!("{:#}", primary.expect_err("refused"));
    assert!(error.contains("not a standby"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_lost_later_falls_back_and_returns() {
    let _lock = ReplicaLock::take().await;
    observe::start();
    let replica: sqlx::postgres::PgConnectOptions =
        replica_url().parse().expect("DRAGOMAN_TEST_REPLICA");
    let to = tokio::net::lookup_host((replica.get_host(), replica.get_port()))
        .await
        .expect("the replica's address")
        .next()
        .expect("an address");
    let relay = proxy::Relay::start(to).await;
    let db = TestDatabase::create().await.expect("a test database");
    db.replica_url().await.expect("the database on the replica");
    let (store, _db, _guard) = {
        let url = format!("postgres://postgres@127.0.0.1:{}/{}", relay.port, db.name);
        let store = PgStore::connect(&db.direct_url(), Pooler::None, 4)
            .await
            .expect("the primary")
            .with_replica(&ReplicaSettings {
                url,
                pooler: Pooler::None,
                max_connections: 4,
                max_lag: Duration::from_millis(400),
            })
            .await
            .expect("the replica through the relay");
        (Arc::new(store), db.clone(), DatabaseGuard(db))
    };
    let matching: &dyn MatchingStore = store.as_ref();
    let id = interpreter(store.as_ref() as &dyn Store, "Ana", &["es"]).await;
    set_status(matching, id, InterpreterStatus::Available, 1).await;
    assert_eq!(available_es(matching).await, 1);

    // A replica still replaying an earlier test's backlog may lag for a moment: start healthy.
    eventually("a healthy replica", || store.replica_in_use() == Some(true)).await;
    let mark = observe::start();
    relay.cut();
    eventually("the loss noticed", || {
        observe::lines_since(mark, "Read replica unreachable") == 1
    })
    .await;
    assert_eq!(store.replica_in_use(), Some(false));
    let down = observe::fallbacks("down") + observe::fallbacks("error");
    set_status(matching, id, InterpreterStatus::Away, 2).await;
    assert_eq!(available_es(matching).await, 0, "read on the primary");
    assert!(
        observe::fallbacks("down") + observe::fallbacks("error") - down >= 1.0,
        "{}",
        observe::render()
    );

    relay.restore().await;
    eventually("the replica's return", || {
        store.replica_in_use() == Some(true)
    })
    .await;
    assert_eq!(observe::lines_since(mark, "Read replica usable again"), 1);
    assert_eq!(observe::lines_since(mark, "Read replica unreachable"), 1);
    let fallbacks = observe::fallbacks("down") + observe::fallbacks("error");
    assert_eq!(available_es(matching).await, 0);
    assert_eq!(
        observe::fallbacks("down") + observe::fallbacks("error"),
        fallbacks,
        "read on the replica again"
    );
    relay.cut();
}
