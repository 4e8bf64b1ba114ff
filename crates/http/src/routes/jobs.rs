//! The durable job queue as operators see it: jobs by state, and replay of a dead job.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use dragoman_engine::jobs::JobView;
use dragoman_ports::JobState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AdminCaller, Json};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The most jobs one listing answers.
pub const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retry))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// `dead` (the default), `delayed` or `active`.
    pub state: Option<String>,
    /// At most this many, oldest first: 1 to 500, default 100.
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
}

/// Jobs in one state: dead-lettered (with their last error), delayed, or active.
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", security(("bearer" = [])), params(JobQuery),
    responses(
        (status = 200, body = JobList),
        (status = 400, description = "an unknown state or a limit that is not 1 to 500", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    _admin: AdminCaller,
    query: Result<Query<JobQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let job_state = match query.state.as_deref().unwrap_or("dead") {
        "dead" => JobState::Dead,
        "delayed" => JobState::Delayed,
        "active" => JobState::Active,
        other => {
            return Err(ApiError::Malformed(format!(
                "state must be dead, delayed or active, not {:?}",
                truncated(other)
            )));
        }
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::Malformed(format!(
                    "limit must be an integer from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    Ok(Json(JobList {
        items: state.engine.jobs(job_state, limit).await?,
    }))
}

/// At most 40 characters of what the caller sent, for an error message.
fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Hands a dead job back to the queue, its attempts reset; 404 unless a dead job has this id.
#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no dead job has this id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry(
    State(state): State<AppState>,
    _admin: AdminCaller,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::NotFound)?;
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::NotFound);
    }
    state.engine.retry_dead_job(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
