//! Operations: the load balancer's health check, readiness, metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Json;
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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DependencyState {
    pub name: &'static str,
    /// `up` or `down`.
    pub status: &'static str,
    /// Why it is down, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    pub dependencies: Vec<DependencyState>,
}

/// 200 when every dependency answers, else 503; the body lists each one.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "every dependency answers", body = Readiness), (status = 503, description = "a dependency does not answer; each one's state", body = Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let timeout = std::time::Duration::from_secs(2);
    let state_of =
        |name: &'static str, result: Result<anyhow::Result<()>, tokio::time::error::Elapsed>| {
            match result {
                Ok(Ok(())) => DependencyState {
                    name,
                    status: "up",
                    error: None,
                },
                Ok(Err(e)) => DependencyState {
                    name,
                    status: "down",
                    error: Some(format!("{e:#}")),
                },
                Err(_) => DependencyState {
                    name,
                    status: "down",
                    error: Some("no answer within 2 s".to_owned()),
                },
            }
        };
    let store = tokio::time::timeout(timeout, async {
        state.store.ping().await.map_err(anyhow::Error::from)
    })
    .await;
    // The bus, the event logs and the limiter share one backend: in-process, or one Redis.
    let bus = state_of("bus", tokio::time::timeout(timeout, state.bus.ping()).await);
    let cache = DependencyState {
        name: "cache",
        ..bus.clone()
    };
    let dependencies = vec![state_of("database", store), cache, bus];
    let all_up = dependencies.iter().all(|d| d.status == "up");
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

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "the metrics in the Prometheus text format", content_type = "text/plain; version=0.0.4", body = String)))]
async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
