//! Operators and the durable job queue over HTTP: the dead-letter list, delayed and active jobs,
//! replay of a dead job, the overview's count of dead jobs. On the embedded queue (SQLite), on
//! Redis Streams (PostgreSQL through PgBouncer, as a fleet runs), and on the PostgreSQL queue of an
//! instance without Redis (through PgBouncer).

use std::sync::Arc;

use crate::common::{Queue, TestApp, expect_problem, spawn_on_queue};
use chrono::{TimeDelta, Utc};
use dragoman_ports::{JobQueue, NewJob};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A dead job of a type no worker serves, made by reserving it and failing it for good the way a
/// worker does. The application's own worker also looks at unknown types (about once a second);
/// should it take the job first, another is made.
async fn dead_job(queue: &Arc<dyn JobQueue>, kind: &str) -> String {
    for _ in 0..5 {
        let key = format!("{kind}:{}", uuid::Uuid::new_v4().simple());
        queue
            .enqueue(NewJob::new(kind, &key, json!({"n": 1})))
            .await
            .expect("enqueued");
        let held = queue
            .reserve(kind, "test-operator", 10, TimeDelta::hours(1))
            .await
            .expect("reserved");
        if let Some(job) = held.into_iter().find(|d| d.key == key) {
            queue
                .fail(&job, "boom: the test failed it", None)
                .await
                .expect("dead-lettered");
            return job.id;
        }
    }
    panic!("the worker took every job made to be dead-lettered");
}

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let response = app.get_as(token, &format!("/v1/admin/jobs{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON");
    body["items"].as_array().cloned().expect("items")
}

async fn operators_list_and_replay_jobs(queue_kind: Queue) {
    let app = spawn_on_queue(queue_kind).await;
    let admin = app.admin().await;
    let client = app.signup("client").await;
    let queue = app.engine.job_queue().expect("a job queue").clone();

    let dead = dead_job(&queue, "test-unserved").await;
    let later = Utc::now() + TimeDelta::hours(1);
    queue
        .enqueue(NewJob::new("test-later", "later-1", json!({"x": "y"})).at(later))
        .await
        .expect("enqueued");
    let held_key = format!("held:{}", uuid::Uuid::new_v4().simple());
    queue
        .enqueue(NewJob::new("test-held", &held_key, json!({})))
        .await
        .expect("enqueued");
    let held = queue
        .reserve("test-held", "test-operator", 10, TimeDelta::hours(1))
        .await
        .expect("reserved");

    // The dead-letter list is the default, with the last error and the attempts.
    let items = list(&app, &admin.access, "").await;
    let job = items
        .iter()
        .find(|j| j["id"] == dead.as_str())
        .expect("listed");
    assert_eq!(job["state"], "dead");
    assert_eq!(job["kind"], "test-unserved");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["last_error"], "boom: the test failed it");
    assert_eq!(job["payload"], json!({"n": 1}));
    assert_eq!(list(&app, &admin.access, "?state=dead").await, items);

    let delayed = list(&app, &admin.access, "?state=delayed&limit=10").await;
    let job = delayed
        .iter()
        .find(|j| j["key"] == "later-1")
        .expect("delayed job listed");
    assert_eq!(job["state"], "delayed");
    assert_eq!(job["payload"], json!({"x": "y"}));
    let active = list(&app, &admin.access, "?state=active").await;
    if let Some(h) = held.first() {
        assert!(
            active.iter().any(|j| j["id"] == h.id.as_str()),
            "{active:?}"
        );
    }

    let overview: Value = app
        .get_as(&admin.access, "/v1/admin/overview")
        .await
        .json()
        .await
        .expect("JSON");
    let counted = queue.counts().await.expect("counts").dead;
    assert!(counted >= 1);
    assert_eq!(overview["dead_jobs"], counted, "{overview}");

    // Bad values: 422 problem+json naming the field, never a 5xx.
    for (query, field) in [
        ("?state=bogus", "state"),
        ("?state=waiting%00", "state"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=-3", "limit"),
        ("?limit=many", "limit"),
        ("?cursor=", "cursor"),
        ("?cursor=abc", "cursor"),
        ("?cursor=-1", "cursor"),
        ("?cursor=%2B5", "cursor"),
        ("?cursor=0", "cursor"),
        ("?cursor=99999999999999999999999", "cursor"),
        ("?colour=red", "query"),
    ] {
        let problem = expect_problem(
            app.get_as(&admin.access, &format!("/v1/admin/jobs{query}"))
                .await,
            422,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    // Only administrators.
    expect_problem(app.get_as(&client.access, "/v1/admin/jobs").await, 403).await;
    expect_problem(
        app.post_empty_as(&client.access, &format!("/v1/admin/jobs/{dead}/retry"))
            .await,
        403,
    )
    .await;
    expect_problem(app.get("/v1/admin/jobs").await, 401).await;

    // Replay: the job leaves the dead-letter list; a second replay finds no dead job.
    let retried = app
        .post_empty_as(&admin.access, &format!("/v1/admin/jobs/{dead}/retry"))
        .await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let items = list(&app, &admin.access, "?state=dead").await;
    assert!(!items.iter().any(|j| j["id"] == dead.as_str()), "{items:?}");
    assert_eq!(queue.counts().await.expect("counts").dead, counted - 1);
    expect_problem(
        app.post_empty_as(&admin.access, &format!("/v1/admin/jobs/{dead}/retry"))
            .await,
        404,
    )
    .await;
    for id in ["no-such-job", "0-0", "%20", &"9".repeat(300)] {
        expect_problem(
            app.post_empty_as(&admin.access, &format!("/v1/admin/jobs/{id}/retry"))
                .await,
            404,
        )
        .await;
    }
    app.stop().await;
}

/// The list is paginated as every list of the contract: `limit` (default 50, at most 200),
/// `next_cursor` to the next page, null on the last; the pages together hold every job once.
async fn the_job_list_is_paginated_by_cursor(queue_kind: Queue) {
    let app = spawn_on_queue(queue_kind).await;
    let admin = app.admin().await;
    let queue = app.engine.job_queue().expect("a job queue").clone();
    let later = Utc::now() + TimeDelta::hours(1);
    let kind = format!("test-page-{}", uuid::Uuid::new_v4().simple());
    let jobs: Vec<NewJob> = (0..57)
        .map(|n| NewJob::new(&kind, format!("{kind}:{n}"), json!({"n": n})).at(later))
        .collect();
    queue.enqueue_many(jobs).await.expect("enqueued");

    let first: Value = app
        .get_as(&admin.access, "/v1/admin/jobs?state=delayed")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        first["items"].as_array().expect("items").len(),
        50,
        "the default limit"
    );
    assert!(first["next_cursor"].is_string(), "{first}");
    let mut seen = Vec::new();
    let mut cursor = None::<String>;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            None => "?state=delayed&limit=20".to_owned(),
            Some(c) => format!("?state=delayed&limit=20&cursor={c}"),
        };
        let response = app
            .get_as(&admin.access, &format!("/v1/admin/jobs{query}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.expect("JSON");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 20);
        seen.extend(
            items
                .iter()
                .map(|j| j["key"].as_str().expect("key").to_owned()),
        );
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(items.len(), 20, "a page before the last is full");
                cursor = Some(next.to_owned());
            }
            None => break,
        }
        assert!(pages < 10, "the pages never end");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a job listed twice: {seen:?}");
    // The application may have delayed jobs of its own; these are the test's.
    let ours = seen.iter().filter(|k| k.starts_with(&kind)).count();
    assert_eq!(ours, 57, "{seen:?}");
    assert!(pages >= 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_list_is_paginated_on_the_embedded_queue() {
    the_job_list_is_paginated_by_cursor(Queue::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_list_is_paginated_on_redis() {
    the_job_list_is_paginated_by_cursor(Queue::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_list_is_paginated_on_postgres_without_redis() {
    the_job_list_is_paginated_by_cursor(Queue::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_and_replay_jobs_on_the_embedded_queue() {
    operators_list_and_replay_jobs(Queue::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_and_replay_jobs_on_redis() {
    operators_list_and_replay_jobs(Queue::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_and_replay_jobs_on_postgres_without_redis() {
    operators_list_and_replay_jobs(Queue::Postgres).await;
}
