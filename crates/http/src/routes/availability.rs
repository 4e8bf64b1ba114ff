//! Availability per language, and what administrators see.

use axum::extract::State;
use dragoman_domain::matching::RequestId;
use dragoman_engine::admin::{ExplanationView, Overview};
use dragoman_engine::views::LanguageAvailability;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AdminCaller, Caller, Json, PathId};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(availability))
        .routes(routes!(overview))
        .routes(routes!(explanation))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    pub languages: Vec<LanguageAvailability>,
}

/// Interpreters available and requests waiting, per language.
#[utoipa::path(get, path = "/v1/availability", tag = "requests", security(("bearer" = [])),
    responses((status = 200, description = "per language: interpreters available, requests waiting, estimated wait", body = Availability), (status = 401, description = "no valid access token", body = Problem, content_type = "application/problem+json")))]
async fn availability(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Availability>, ApiError> {
    Ok(Json(Availability {
        languages: state.requests.availability().await?,
    }))
}

/// Live counts and match times.
#[utoipa::path(get, path = "/v1/admin/overview", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "live counts", body = Overview), (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json")))]
async fn overview(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(state.operations.overview().await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplanationList {
    pub items: Vec<ExplanationView>,
}

/// Why each offer of a request went to whom it went.
#[utoipa::path(get, path = "/v1/admin/requests/{id}/explanation", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "each offer of the request with the explanation of its choice", body = ExplanationList),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn explanation(
    State(state): State<AppState>,
    _admin: AdminCaller,
    PathId(id): PathId,
) -> Result<Json<ExplanationList>, ApiError> {
    Ok(Json(ExplanationList {
        items: state.operations.explanations(RequestId(id)).await?,
    }))
}
