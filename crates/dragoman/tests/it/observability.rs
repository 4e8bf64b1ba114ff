//! /metrics after a scripted flow, and the bound on its label values.
//!
//! The Prometheus recorder is process-wide: each test runs in a process of its own
//! (`alone_in_process`: under cargo-nextest it already does), and neither counts what another
//! would do: only the flow creates requests, and the scan only counts series.

use crate::common::{Backend, spawn_app};
use dragoman_conformance::process::alone_in_process;
use dragoman_engine::gauges::StoreGauges;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The value of the sample `name{labels}` (labels in the order they were given), if any.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_match_show_its_counts_gauges_and_observation() {
    if !alone_in_process(
        module_path!(),
        "metrics_after_a_match_show_its_counts_gauges_and_observation",
    ) {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    let interpreter = app.interpreter_speaking(&["es"]).await;
    let client = app.signup("client").await;
    let created = app
        .post_as(&client.access, "/v1/requests", &json!({"language": "es"}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    // Nobody speaks Japanese: this one waits.
    let other = app.signup("client").await;
    let waiting = app
        .post_as(&other.access, "/v1/requests", &json!({"language": "ja"}))
        .await;
    assert_eq!(waiting.status(), StatusCode::CREATED);
    let offer = app.wait_for_offer(&interpreter).await;
    let session = app.accept(&interpreter, &offer).await;
    let match_time = session["match_time_ms"].as_f64().expect("match time") / 1000.0;

    // What the periodic task does every METRICS_INTERVAL_MS, done now.
    StoreGauges::new()
        .publish(&app.engine)
        .await
        .expect("gauges read");
    let metrics = app.metrics().await;
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&metrics, series), Some(value), "{series}\n{metrics}");
    };
    expect(
        "http_requests_total{method=\"POST\",route=\"/v1/requests\",status=\"201\"}",
        2.0,
    );
    expect(
        "http_requests_total{method=\"POST\",route=\"/v1/offers/{id}/accept\",status=\"200\"}",
        1.0,
    );
    expect(
        "http_request_duration_seconds_count{method=\"POST\",route=\"/v1/requests\"}",
        2.0,
    );
    expect("dragoman_requests_created_total{language=\"es\"}", 1.0);
    expect("dragoman_requests_created_total{language=\"ja\"}", 1.0);
    expect("dragoman_offers_created_total{language=\"es\"}", 1.0);
    expect("dragoman_match_time_seconds_count{language=\"es\"}", 1.0);
    let sum = sample(&metrics, "dragoman_match_time_seconds_sum{language=\"es\"}")
        .expect("a match time sum");
    assert!((sum - match_time).abs() < 1e-6, "{sum} != {match_time}");
    // The observation sits in the first bucket at or above it, and in every one after.
    let first_bucket = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|le| match_time <= *le)
        .expect("a match within 10 s");
    expect(
        &format!("dragoman_match_time_seconds_bucket{{language=\"es\",le=\"{first_bucket}\"}}"),
        1.0,
    );
    expect(
        "dragoman_match_time_seconds_bucket{language=\"es\",le=\"+Inf\"}",
        1.0,
    );
    expect("dragoman_requests_waiting{language=\"ja\"}", 1.0);
    expect("dragoman_interpreters_online{language=\"ja\"}", 0.0);
    expect("dragoman_requests_waiting{language=\"es\"}", 0.0);
    expect("dragoman_interpreters_online{language=\"es\"}", 1.0);
    expect(
        "dragoman_interpreters{status=\"busy\",language=\"es\"}",
        1.0,
    );
    expect(
        "dragoman_interpreters{status=\"available\",language=\"es\"}",
        0.0,
    );
    expect("dragoman_db_pool_max_connections{pool=\"writer\"}", 1.0);
    assert!(
        sample(
            &metrics,
            "dragoman_db_pool_connections{pool=\"reader\",state=\"idle\"}"
        )
        .is_some(),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_random_paths_leave_the_metrics_small() {
    if !alone_in_process(
        module_path!(),
        "a_thousand_random_paths_leave_the_metrics_small",
    ) {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::DELETE,
        Method::from_bytes(b"PROPFIND").expect("a method"),
    ];
    let mut probes = Vec::new();
    for i in 0..1000 {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let path = match i % 4 {
            0 => format!("/{token}"),
            1 => format!("/v1/requests/{token}"),
            2 => format!("/v1/{token}/x?language={token}"),
            _ => format!("/v1/offers/{token}/accept"),
        };
        probes.push((methods[i % methods.len()].clone(), path, token));
    }
    for chunk in probes.chunks(50) {
        let sends = chunk.iter().map(|(method, path, _)| {
            app.http
                .request(method.clone(), app.url(path))
                .bearer_auth("not-a-token")
                .send()
        });
        for answer in futures::future::join_all(sends).await {
            let status = answer.expect("answered").status();
            assert!(status.is_client_error(), "{status}");
        }
    }
    let metrics = app.metrics().await;
    for (_, _, token) in &probes {
        assert!(!metrics.contains(token.as_str()), "{token} became a label");
    }
    assert!(
        !metrics.contains("PROPFIND"),
        "an unknown method became a label"
    );
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .count();
    assert!(series <= 40, "{series} request series:\n{metrics}");
    assert!(metrics.len() < 64 * 1024, "{} bytes", metrics.len());
    app.stop().await;
}
