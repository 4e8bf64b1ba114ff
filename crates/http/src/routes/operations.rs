//! Operations: the load balancer's health check, readiness, metrics.
//!
//! /metrics is kept off the public listener: it is served on its own port (METRICS_PORT, see
//! [`metrics_router`]), and on the public one only to a bearer of METRICS_TOKEN. /ready answers
//! the operations service's readiness: each dependency's state, never the error text behind it
//! (which can carry host names and driver messages); the text goes to the log.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dragoman_engine::admin::DependencyState;
use dragoman_telemetry::PrometheusHandle;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Json;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(prometheus))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// 200 while the process serves. Touches no dependency: a database outage must not make the
/// load balancer kill every instance at once.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "the process serves", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub dependencies: Vec<DependencyState>,
}

/// 200 when every dependency answers, else 503; the body lists each one's state.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "every dependency answers", body = Readiness),
        (status = 503, description = "a dependency is down or does not answer", body = Readiness),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let dependencies = state.operations.readiness().await;
    let all_up = dependencies.iter().all(DependencyState::is_up);
    let code = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Readiness {
            status: if all_up { "ready" } else { "not_ready" },
            dependencies,
        }),
    )
}

/// Prometheus text exposition, on the public listener only to a bearer of METRICS_TOKEN (else
/// 404: the route is not there for anyone else). The metrics port serves it to anyone who can
/// reach that port.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 404, description = "METRICS_TOKEN is unset or was not presented", body = Problem, content_type = "application/problem+json"),
    ))]
async fn prometheus(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&state.settings.metrics_token, presented) {
        (Some(token), Some(presented)) if same_secret(token, presented) => {
            exposition(&state.metrics).into_response()
        }
        _ => ApiError::NotFound.into_response(),
    }
}

/// Compares digests, so the time taken does not tell how much of the token was right.
fn same_secret(expected: &str, presented: &str) -> bool {
    Sha256::digest(expected.as_bytes()) == Sha256::digest(presented.as_bytes())
}

fn exposition(metrics: &PrometheusHandle) -> impl IntoResponse + use<> {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// Serves [`metrics_router`] on `listener` until aborted.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: PrometheusHandle,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(metrics)).await
}

/// The metrics listener's routes: `GET /metrics`, and 404 for everything else.
pub fn metrics_router(metrics: PrometheusHandle) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { exposition(&metrics) }
            }),
        )
        .fallback(|| async { ApiError::NotFound })
}
