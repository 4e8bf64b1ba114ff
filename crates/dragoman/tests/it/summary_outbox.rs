//! The post-session summary cannot be lost between the session's end and its enqueue: ending a
//! session writes an outbox row in the same transaction, and the relay enqueues every summary
//! still owed. The crash is the commit of the end without the engine's enqueue (the process
//! dying right after the store's transaction); on the embedded queue, on Redis, and on the
//! PostgreSQL queue of an instance without Redis.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Queue, TestApp, spawn_on_queue};
use chrono::{TimeDelta, Utc};
use dragoman_domain::UserId;
use dragoman_domain::matching::SessionId;
use dragoman_ports::matching::SessionOutcome;
use dragoman_ports::{JobEffects, MatchingStore};
use reqwest::StatusCode;
use serde_json::json;

/// A second connection to the application's own database: the crash's side of the story.
async fn side_store(app: &TestApp) -> (Arc<dyn MatchingStore>, Arc<dyn JobEffects>) {
    match &app.database {
        Some(db) => {
            let store = dragoman_store_postgres::PgStore::connect(
                &db.direct_url(),
                dragoman_store_postgres::Pooler::None,
                2,
            )
            .await
            .expect("connected");
            (Arc::new(store.clone()), Arc::new(store))
        }
        None => {
            let store = dragoman_store_sqlite::SqliteStore::open(
                &app.data_dir.path().join("dragoman.sqlite"),
            )
            .await
            .expect("opened");
            (Arc::new(store.clone()), Arc::new(store))
        }
    }
}

/// A started session: (session id, client id, client token).
async fn session(app: &TestApp) -> (String, String, String) {
    let interpreter = app.interpreter_speaking(&["ko"]).await;
    let client = app.signup("client").await;
    app.post_as(&client.access, "/v1/requests", &json!({"language": "ko"}))
        .await;
    let offer = app.wait_for_offer(&interpreter).await;
    let session = app.accept(&interpreter, &offer).await;
    (
        session["id"].as_str().expect("id").to_owned(),
        client.id,
        client.access,
    )
}

async fn wait_for_summaries(effects: &dyn JobEffects, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let count = effects.session_summary_count().await.expect("count");
        if count == n {
            return;
        }
        assert!(count < n, "{count} summaries, more than {n}");
        assert!(Instant::now() < deadline, "{count} summaries, not {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_crash_between_the_end_and_the_enqueue_loses_no_summary(queue: Queue) {
    let app = spawn_on_queue(queue).await;
    let (store, effects) = side_store(&app).await;
    let queue = app.engine.job_queue().expect("a queue").clone();

    // The ordinary path: the engine enqueues right after the end; the summary is written and
    // nothing stays owed.
    let (id, _, client) = session(&app).await;
    let ended = app
        .post_empty_as(&client, &format!("/v1/sessions/{id}/end"))
        .await;
    assert_eq!(ended.status(), StatusCode::OK);
    wait_for_summaries(effects.as_ref(), 1).await;
    let later = Utc::now() + TimeDelta::minutes(1);
    assert!(
        effects
            .owed_session_summaries(later, 10)
            .await
            .expect("owed")
            .is_empty()
    );

    // The crash: the end's transaction commits, the enqueue never happens.
    let (id, client_id, _) = session(&app).await;
    let session_id = SessionId(id.parse().expect("uuid"));
    let outcome = store
        .end_session(
            session_id,
            UserId(client_id.parse().expect("uuid")),
            Utc::now(),
        )
        .await
        .expect("ended");
    assert!(matches!(outcome, SessionOutcome::Done(_)), "{outcome:?}");
    let owed = effects
        .owed_session_summaries(later, 10)
        .await
        .expect("owed");
    assert_eq!(owed.len(), 1, "{owed:?}");
    assert_eq!(owed[0].session_id, session_id.0);
    assert_eq!(owed[0].language, "ko");
    assert!(owed[0].duration_ms >= 0);
    // Not yet owed for long enough: the relay leaves it to the engine's own enqueue.
    let early = owed[0].ended_at;
    assert_eq!(
        dragoman_jobs::relay_owed_summaries(effects.as_ref(), queue.as_ref(), early)
            .await
            .expect("relayed"),
        0
    );
    assert_eq!(effects.session_summary_count().await.expect("count"), 1);

    // The relay (what every instance runs periodically) enqueues it; the worker writes it once.
    assert_eq!(
        dragoman_jobs::relay_owed_summaries(effects.as_ref(), queue.as_ref(), later)
            .await
            .expect("relayed"),
        1
    );
    wait_for_summaries(effects.as_ref(), 2).await;
    assert!(
        effects
            .owed_session_summaries(later, 10)
            .await
            .expect("owed")
            .is_empty()
    );
    assert_eq!(
        dragoman_jobs::relay_owed_summaries(effects.as_ref(), queue.as_ref(), later)
            .await
            .expect("relayed"),
        0
    );
    app.stop().await;
    assert_eq!(effects.session_summary_count().await.expect("count"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_summary_lost_on_the_embedded_queue() {
    a_crash_between_the_end_and_the_enqueue_loses_no_summary(Queue::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_summary_lost_on_redis() {
    a_crash_between_the_end_and_the_enqueue_loses_no_summary(Queue::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_summary_lost_on_postgres_without_redis() {
    a_crash_between_the_end_and_the_enqueue_loses_no_summary(Queue::Postgres).await;
}
